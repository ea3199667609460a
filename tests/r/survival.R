# Oracle for helpers.stats.survival: R's survival package (survfit, summary.survfit, quantile.survfit,
# survdiff, coxph with Efron ties, cox.zph).
#
# Usage: Rscript --vanilla tests/r/survival.R <dir>
#   reads  <dir>/survival_cases.csv     (case_id, id, time, status, group, x1, x2)
#          <dir>/survival_times.csv     (case_id, t): times for summary(fit, times = t)
#          <dir>/survival_models.csv    (case_id, terms): Cox covariates, ";"-separated
#          <dir>/survival_tv_cases.csv  (case_id, id, tstart, tstop, status, z, x1): counting process
#   writes <dir>/survival_*_expected.csv and <dir>/survival_session.csv
# Numbers leave R with 17 significant digits so they read back as R's exact doubles.
# Run through r_oracle.run_rscript (tests/test_survival_vs_r.py; regenerate the committed
# fixtures with: python tests/test_survival_vs_r.py --regenerate).

suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1L) stop("usage: Rscript survival.R <exchange directory>")
dir <- args[1]
num17 <- function(x) vapply(x, function(v) if (is.na(v) && !is.nan(v)) "NA" else format(v, digits = 17), "")

cases <- read.csv(file.path(dir, "survival_cases.csv"), colClasses = c("character", "character", "numeric",
                  "integer", "character", "numeric", "numeric"))
times <- read.csv(file.path(dir, "survival_times.csv"), colClasses = c("character", "numeric"))
models <- read.csv(file.path(dir, "survival_models.csv"), colClasses = "character")
tv <- read.csv(file.path(dir, "survival_tv_cases.csv"), colClasses = c("character", "character", "numeric",
               "numeric", "integer", "numeric", "numeric"))

km_rows <- list(); at_rows <- list(); med_rows <- list(); lr_rows <- list(); lrg_rows <- list()
cox_rows <- list(); coxfit_rows <- list(); zph_rows <- list(); zres_rows <- list()

curve_out <- function(case_id, label, fit, tt) {
  km_rows[[length(km_rows) + 1]] <<- data.frame(
    case_id = case_id, group = label, time = num17(fit$time), n_risk = fit$n.risk, n_event = fit$n.event,
    n_censor = fit$n.censor, surv = num17(fit$surv), std_err = num17(fit$std.err),
    lower = num17(fit$lower), upper = num17(fit$upper), stringsAsFactors = FALSE)
  q <- quantile(fit, 0.5)
  med_rows[[length(med_rows) + 1]] <<- data.frame(
    case_id = case_id, group = label, median = num17(unname(q$quantile)), lower = num17(unname(q$lower)),
    upper = num17(unname(q$upper)), stringsAsFactors = FALSE)
  if (length(tt)) {
    s <- summary(fit, times = tt)
    if (length(s$time)) {
      at_rows[[length(at_rows) + 1]] <<- data.frame(
        case_id = case_id, group = label, t = num17(s$time), surv = num17(s$surv),
        std_err = num17(s$std.err), lower = num17(s$lower), upper = num17(s$upper), n_risk = s$n.risk,
        stringsAsFactors = FALSE)
    }
  }
}

for (cid in unique(cases$case_id)) {
  d <- cases[cases$case_id == cid, ]
  tt <- times$t[times$case_id == cid]
  curve_out(cid, "(all)", survfit(Surv(time, status) ~ 1, data = d, conf.type = "log-log"), tt)
  curve_out(cid, "(reverse)", survfit(Surv(time, 1 - status) ~ 1, data = d, conf.type = "log-log"), numeric(0))
  groups <- sort(unique(d$group))
  for (g in groups) {
    curve_out(cid, g, survfit(Surv(time, status) ~ 1, data = d[d$group == g, ], conf.type = "log-log"), tt)
  }
  if (length(groups) > 1) {
    sd <- survdiff(Surv(time, status) ~ group, data = d)
    df <- sum(sd$exp > 0) - 1
    lr_rows[[length(lr_rows) + 1]] <- data.frame(
      case_id = cid, chisq = num17(sd$chisq), df = df, p = num17(pchisq(sd$chisq, df, lower.tail = FALSE)),
      stringsAsFactors = FALSE)
    lrg_rows[[length(lrg_rows) + 1]] <- data.frame(
      case_id = cid, group = sub("^group=", "", names(sd$n)), n = as.integer(sd$n), observed = num17(sd$obs),
      expected = num17(sd$exp), stringsAsFactors = FALSE)
  }
  m <- models$terms[models$case_id == cid]
  if (length(m) == 1 && nchar(m) > 0) {
    terms <- strsplit(m, ";", fixed = TRUE)[[1]]
    f <- as.formula(paste("Surv(time, status) ~", paste(terms, collapse = " + ")))
    fit <- coxph(f, data = d, ties = "efron")
    s <- summary(fit)$coefficients
    ci <- exp(confint(fit))
    cox_rows[[length(cox_rows) + 1]] <- data.frame(
      case_id = cid, term = rownames(s), coef = num17(s[, "coef"]), se = num17(s[, "se(coef)"]),
      z = num17(s[, "z"]), p = num17(s[, "Pr(>|z|)"]), lower = num17(ci[, 1]), upper = num17(ci[, 2]),
      stringsAsFactors = FALSE)
    lrt <- 2 * (fit$loglik[2] - fit$loglik[1])
    coxfit_rows[[length(coxfit_rows) + 1]] <- data.frame(
      case_id = cid, loglik_null = num17(fit$loglik[1]), loglik = num17(fit$loglik[2]), lr = num17(lrt),
      lr_df = length(terms), lr_p = num17(pchisq(lrt, length(terms), lower.tail = FALSE)),
      n = fit$n, events = fit$nevent, stringsAsFactors = FALSE)
    for (tr in c("km", "rank", "identity")) {
      z <- cox.zph(fit, transform = tr)
      zph_rows[[length(zph_rows) + 1]] <- data.frame(
        case_id = cid, transform = tr, term = rownames(z$table), chisq = num17(z$table[, "chisq"]),
        df = z$table[, "df"], p = num17(z$table[, "p"]), stringsAsFactors = FALSE)
      if (tr == "km") {
        for (j in seq_len(ncol(z$y))) {
          zres_rows[[length(zres_rows) + 1]] <- data.frame(
            case_id = cid, k = seq_along(z$x), term = colnames(z$y)[j], x = num17(z$x),
            time = num17(z$time), y = num17(unname(z$y[, j])), stringsAsFactors = FALSE)
        }
      }
    }
  }
}

tv_rows <- list()
for (cid in unique(tv$case_id)) {
  d <- tv[tv$case_id == cid, ]
  fit <- coxph(Surv(tstart, tstop, status) ~ z + x1, data = d, ties = "efron")
  s <- summary(fit)$coefficients
  tv_rows[[length(tv_rows) + 1]] <- data.frame(
    case_id = cid, term = rownames(s), coef = num17(s[, "coef"]), se = num17(s[, "se(coef)"]),
    p = num17(s[, "Pr(>|z|)"]), loglik = num17(fit$loglik[2]), stringsAsFactors = FALSE)
}

out <- function(rows, name) write.csv(do.call(rbind, rows), file.path(dir, name), row.names = FALSE)
out(km_rows, "survival_km_expected.csv")
out(at_rows, "survival_at_expected.csv")
out(med_rows, "survival_median_expected.csv")
out(lr_rows, "survival_logrank_expected.csv")
out(lrg_rows, "survival_logrank_groups_expected.csv")
out(cox_rows, "survival_cox_expected.csv")
out(coxfit_rows, "survival_coxfit_expected.csv")
out(zph_rows, "survival_zph_expected.csv")
out(zres_rows, "survival_zph_resid_expected.csv")
out(tv_rows, "survival_coxtv_expected.csv")
write.csv(data.frame(r_version = R.version.string, platform = R.version$platform,
                     survival = as.character(packageVersion("survival")), script = "tests/r/survival.R",
                     stringsAsFactors = FALSE), file.path(dir, "survival_session.csv"), row.names = FALSE)
