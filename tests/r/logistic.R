# Oracle for helpers.stats.regression and the response chapter's confidence intervals:
#   R's glm(family = binomial), drop1(test = "LRT"), confint.default, binom.test, prop.test.
#
# Usage: Rscript --vanilla tests/r/logistic.R <dir>
#   reads  <dir>/logistic_models.csv           (model_id, dataset, outcome, predictors "a+b+c", ...)
#          <dir>/logistic_data_<dataset>.csv   (one per dataset named in logistic_models.csv)
#          <dir>/logistic_saturated_cases.csv  (case_id, group, k, n; first group = reference)
#          <dir>/response_binomial_cases.csv   (case_id, k, n, level)
#   writes <dir>/logistic_coef_expected.csv, logistic_fit_expected.csv,
#          logistic_saturated_expected.csv, response_binomial_expected.csv, logistic_session.csv
#
# Only base R (stats) is used: no logistf, brglm2 or MASS.
#
# Firth's estimate is NOT computed here (logistf is not installable from Debian's archive).
# What R checks instead is an exact identity: in a saturated model (one coefficient per group)
# Firth's penalized log-likelihood equals the ordinary binomial log-likelihood of the counts with
# 1/2 added to every cell (successes + 1/2, failures + 1/2), for every value of the coefficients.
# So glm on the augmented counts gives Firth's estimate, its profile penalized-likelihood CI
# (found here with uniroot over offset fits) and its penalized likelihood-ratio P, by a route that
# shares no code with the book's Newton-Raphson.
#
# Numbers leave R with 17 significant digits. Regenerate the committed fixtures with
#   .venv/bin/python tests/test_regression_vs_r.py --regenerate

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1L) stop("usage: Rscript logistic.R <exchange directory>")
dir <- args[1]

num17 <- function(x) vapply(x, function(v) if (is.na(v) && !is.nan(v)) "NA" else format(v, digits = 17), "")
ctrl <- glm.control(epsilon = 1e-14, maxit = 100)

# ---------------------------------------------------------------- ordinary ML fits
models <- read.csv(file.path(dir, "logistic_models.csv"), colClasses = "character")
datasets <- list()
coef_rows <- list()
fit_rows <- list()
for (i in seq_len(nrow(models))) {
  m <- models[i, ]
  if (is.null(datasets[[m$dataset]])) {
    datasets[[m$dataset]] <- read.csv(file.path(dir, paste0("logistic_data_", m$dataset, ".csv")))
  }
  d <- datasets[[m$dataset]]
  predictors <- strsplit(m$predictors, "+", fixed = TRUE)[[1]]
  f <- as.formula(paste(m$outcome, "~", paste(predictors, collapse = " + ")))
  warns <- character(0)
  fit <- withCallingHandlers(
    glm(f, family = binomial, data = d, control = ctrl),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  s <- summary(fit)$coefficients
  wald <- confint.default(fit)
  lr <- drop1(fit, test = "LRT")
  p_lr <- c(NA, lr[predictors, "Pr(>Chi)"])
  coef_rows[[i]] <- data.frame(
    model_id = m$model_id, term = rownames(s),
    estimate = num17(s[, 1]), se = num17(s[, 2]), z = num17(s[, 3]), p_wald = num17(s[, 4]),
    ci_lower = num17(wald[, 1]), ci_upper = num17(wald[, 2]), p_lr = num17(p_lr),
    stringsAsFactors = FALSE)
  fit_rows[[i]] <- data.frame(
    model_id = m$model_id, n = nrow(fit$model), events = sum(fit$y),
    deviance = num17(fit$deviance), null_deviance = num17(fit$null.deviance),
    df_residual = fit$df.residual, aic = num17(fit$aic), loglik = num17(as.numeric(logLik(fit))),
    converged = fit$converged, iterations = fit$iter,
    warning = paste(unique(warns), collapse = "; "), stringsAsFactors = FALSE)
}
coef_out <- do.call(rbind, coef_rows)
write.csv(coef_out, file.path(dir, "logistic_coef_expected.csv"), row.names = FALSE)
write.csv(do.call(rbind, fit_rows), file.path(dir, "logistic_fit_expected.csv"), row.names = FALSE)

# ---------------------------------------------------------------- saturated models, augmented counts
sat <- read.csv(file.path(dir, "logistic_saturated_cases.csv"), colClasses = c("character", "character", "integer", "integer"))
fit_aug <- function(X, s, f, offset = rep(0, length(s))) {
  n <- s + f
  if (ncol(X) == 0) {
    p <- plogis(offset)
    return(list(deviance = -2 * sum(s * log(p) + f * log(1 - p)), coefficients = numeric(0)))
  }
  suppressWarnings(glm.fit(X, s / n, weights = n, family = binomial(), offset = offset,
                           control = glm.control(epsilon = 1e-14, maxit = 200)))
}
sat_rows <- list()
for (case in unique(sat$case_id)) {
  part <- sat[sat$case_id == case, ]
  s <- part$k + 0.5
  f <- part$n - part$k + 0.5
  g <- length(s)
  X <- cbind(1, diag(g)[, -1, drop = FALSE])
  colnames(X) <- c("(Intercept)", paste0("group", part$group[-1]))
  full <- fit_aug(X, s, f)
  bhat <- full$coefficients
  # deviance of the augmented counts is -2 * loglik + constant; only differences are used
  dev_of <- function(j, b) fit_aug(X[, -j, drop = FALSE], s, f, offset = b * X[, j])$deviance
  dev_hat <- dev_of(1, bhat[1])
  crit <- qchisq(0.95, 1)
  bound <- function(j, side) {
    gfun <- function(b) dev_of(j, b) - dev_hat - crit
    inner <- bhat[j]; step <- 1; outer <- inner + side * step
    while (gfun(outer) < 0) { inner <- outer; step <- step * 1.6; outer <- outer + side * step }
    uniroot(gfun, sort(c(inner, outer)), tol = 1e-13)$root
  }
  for (j in seq_len(ncol(X))) {
    p_lr <- pchisq(max(0, dev_of(j, 0) - dev_hat), 1, lower.tail = FALSE)
    sat_rows[[length(sat_rows) + 1]] <- data.frame(
      case_id = case, term = colnames(X)[j], estimate = num17(bhat[j]),
      pl_lower = num17(bound(j, -1)), pl_upper = num17(bound(j, 1)), p_lr = num17(p_lr),
      stringsAsFactors = FALSE)
  }
}
write.csv(do.call(rbind, sat_rows), file.path(dir, "logistic_saturated_expected.csv"), row.names = FALSE)

# ---------------------------------------------------------------- binomial CIs of the chapter's rates
binom <- read.csv(file.path(dir, "response_binomial_cases.csv"), colClasses = c("character", "integer", "integer", "numeric"))
out <- lapply(seq_len(nrow(binom)), function(i) {
  k <- binom$k[i]; n <- binom$n[i]; level <- binom$level[i]
  cp <- binom.test(k, n, conf.level = level)$conf.int
  wi <- suppressWarnings(prop.test(k, n, conf.level = level, correct = FALSE))$conf.int
  data.frame(case_id = binom$case_id[i], k = k, n = n, level = num17(level),
             cp_lower = num17(cp[1]), cp_upper = num17(cp[2]),
             wilson_lower = num17(wi[1]), wilson_upper = num17(wi[2]), stringsAsFactors = FALSE)
})
write.csv(do.call(rbind, out), file.path(dir, "response_binomial_expected.csv"), row.names = FALSE)

write.csv(data.frame(r_version = R.version.string, platform = R.version$platform,
                     script = "tests/r/logistic.R", stringsAsFactors = FALSE),
          file.path(dir, "logistic_session.csv"), row.names = FALSE)
