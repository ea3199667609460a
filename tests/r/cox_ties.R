# Oracle for the ties options of helpers.stats.survival.cox_model: R's coxph with ties = "breslow",
# "exact" and "efron", and clogit on the risk sets expanded by hand (the exact partial likelihood
# written as a conditional logistic model, for right-censored data).
#
# Usage: Rscript --vanilla tests/r/cox_ties.R <dir>
#   reads  <dir>/cox_ties_models.csv        (case_id, dataset, terms ";"-separated, start: column or "")
#          <dir>/cox_ties_data_<dataset>.csv (time, status, covariates; start for counting-process data)
#   writes <dir>/cox_ties_coef_expected.csv   per case, ties and term: coef, se, z, p, lower, upper
#          <dir>/cox_ties_fit_expected.csv    per case and ties: log-likelihoods, likelihood-ratio,
#                                             score and Wald tests, concordance (right-censored
#                                             data; the book reports none for counting-process
#                                             data), n, events
#          <dir>/cox_ties_clogit_expected.csv per right-censored case and term: clogit coef and se
#          <dir>/cox_ties_session.csv
# Numbers leave R with 17 significant digits so they read back as R's exact doubles.
# Run through r_oracle.run_rscript (tests/test_cox_ties.py; regenerate the committed fixtures with:
# python tests/test_cox_ties.py --regenerate).

suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1L) stop("usage: Rscript cox_ties.R <exchange directory>")
dir <- args[1]
num17 <- function(x) vapply(x, function(v) if (is.na(v) && !is.nan(v)) "NA" else format(v, digits = 17), "")

models <- read.csv(file.path(dir, "cox_ties_models.csv"), colClasses = "character")
coef_rows <- list(); fit_rows <- list(); clogit_rows <- list()

for (k in seq_len(nrow(models))) {
  cid <- models$case_id[k]
  d <- read.csv(file.path(dir, paste0("cox_ties_data_", models$dataset[k], ".csv")))
  terms <- strsplit(models$terms[k], ";", fixed = TRUE)[[1]]
  counting <- nchar(models$start[k]) > 0
  response <- if (counting) paste0("Surv(", models$start[k], ", time, status)") else "Surv(time, status)"
  f <- as.formula(paste(response, "~", paste(terms, collapse = " + ")))
  for (ties in c("breslow", "exact", "efron")) {
    fit <- coxph(f, data = d, ties = ties)
    # survival 3.5-3 returns an exact (start, stop] fit without its class; the fields are all there
    if (!inherits(fit, "coxph")) class(fit) <- "coxph"
    s <- summary(fit)   # its Wald test is rounded to 2 decimals: fit$wald.test below is not
    cf <- s$coefficients
    ci <- exp(confint(fit))
    coef_rows[[length(coef_rows) + 1]] <- data.frame(
      case_id = cid, ties = ties, term = rownames(cf), coef = num17(cf[, "coef"]), se = num17(cf[, "se(coef)"]),
      z = num17(cf[, "z"]), p = num17(cf[, "Pr(>|z|)"]), lower = num17(ci[, 1]), upper = num17(ci[, 2]),
      stringsAsFactors = FALSE)
    fit_rows[[length(fit_rows) + 1]] <- data.frame(
      case_id = cid, ties = ties, loglik_null = num17(fit$loglik[1]), loglik = num17(fit$loglik[2]),
      lr = num17(s$logtest[["test"]]), lr_df = s$logtest[["df"]], lr_p = num17(s$logtest[["pvalue"]]),
      score = num17(s$sctest[["test"]]), score_p = num17(s$sctest[["pvalue"]]),
      wald = num17(fit$wald.test), wald_p = num17(pchisq(fit$wald.test, length(terms), lower.tail = FALSE)),
      concordance = num17(if (counting) NA else fit$concordance[["concordance"]]),
      n = fit$n, events = fit$nevent, iterations = fit$iter, stringsAsFactors = FALSE)
  }
  if (!counting) {
    # one stratum per event time: everyone still at risk, "case" = died at that time
    sets <- lapply(sort(unique(d$time[d$status == 1])), function(t) {
      r <- d[d$time >= t, ]
      r$case <- as.integer(r$time == t & r$status == 1)
      r$risk_set <- t
      r
    })
    expanded <- do.call(rbind, sets)
    g <- as.formula(paste("case ~", paste(terms, collapse = " + "), "+ strata(risk_set)"))
    cl <- clogit(g, data = expanded, method = "exact")
    cf <- summary(cl)$coefficients
    clogit_rows[[length(clogit_rows) + 1]] <- data.frame(
      case_id = cid, term = rownames(cf), coef = num17(cf[, "coef"]), se = num17(cf[, "se(coef)"]),
      loglik = num17(cl$loglik[2]), stringsAsFactors = FALSE)
  }
}

out <- function(rows, name) write.csv(do.call(rbind, rows), file.path(dir, name), row.names = FALSE)
out(coef_rows, "cox_ties_coef_expected.csv")
out(fit_rows, "cox_ties_fit_expected.csv")
out(clogit_rows, "cox_ties_clogit_expected.csv")
write.csv(data.frame(r_version = R.version.string, platform = R.version$platform,
                     survival = as.character(packageVersion("survival")), script = "tests/r/cox_ties.R",
                     stringsAsFactors = FALSE), file.path(dir, "cox_ties_session.csv"), row.names = FALSE)
