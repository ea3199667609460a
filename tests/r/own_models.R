# Oracle for helpers.chapters.own_models: the models of a reader's cohort, refitted by R on the
# data the book's sections fitted.
#
# Usage: Rscript --vanilla tests/r/own_models.R <dir>
#   reads  <dir>/own_models_logistic_data.csv  (responder 0/1 and the model's terms, one row a patient)
#          <dir>/own_models_firth_counts.csv   (group, k, n of a saturated model; first group = reference)
#          <dir>/own_models_mixed_data.csv     (dataset, patient_id, cohort, day, value, below_lloq)
#          <dir>/own_models_mixed_levels.csv   (dataset, cohort in the book's order: first = reference)
#   writes <dir>/own_models_logistic_expected.csv  glm(family = binomial): coef, SE, drop1 LR P
#          <dir>/own_models_firth_expected.csv     Firth by the saturated-model identity (see logistic.R):
#                                                  glm on the counts + 1/2, profile CI, penalized LR P
#          <dir>/own_models_mixed_means_expected.csv   nlme::lme REML: fixed-effect mean and SE per cohort and day
#          <dir>/own_models_mixed_fit_expected.csv     variance components (REML), LR statistic of the cohort terms (ML)
#          <dir>/own_models_session.csv
#
# Model-based means are compared, not coefficients: they do not depend on how R and patsy code
# the day x cohort factors. Numbers leave R with 17 significant digits. Regenerate with
#   .venv/bin/python tests/test_own_models_vs_r.py --regenerate

suppressPackageStartupMessages(library(nlme))
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1L) stop("usage: Rscript own_models.R <exchange directory>")
dir <- args[1]
num17 <- function(x) vapply(x, function(v) if (is.na(v) && !is.nan(v)) "NA" else format(v, digits = 17), "")

# ---------------------------------------------------------------- ML logistic model
d <- read.csv(file.path(dir, "own_models_logistic_data.csv"))
terms <- setdiff(names(d), "responder")
fit <- glm(as.formula(paste("responder ~", paste(terms, collapse = " + "))), family = binomial, data = d,
           control = glm.control(epsilon = 1e-14, maxit = 100))
s <- summary(fit)$coefficients
lr <- drop1(fit, test = "LRT")
write.csv(data.frame(term = rownames(s), estimate = num17(s[, 1]), se = num17(s[, 2]),
                     p_lr = num17(c(NA, lr[terms, "Pr(>Chi)"]))),
          file.path(dir, "own_models_logistic_expected.csv"), row.names = FALSE)

# ---------------------------------------------------------------- Firth, saturated model
counts <- read.csv(file.path(dir, "own_models_firth_counts.csv"), colClasses = c("character", "integer", "integer"))
sv <- counts$k + 0.5
fv <- counts$n - counts$k + 0.5
X <- cbind(1, diag(length(sv))[, -1, drop = FALSE])
fit_aug <- function(X, offset) {
  if (ncol(X) == 0) {
    p <- plogis(offset)
    return(list(deviance = -2 * sum(sv * log(p) + fv * log(1 - p)), coefficients = numeric(0)))
  }
  suppressWarnings(glm.fit(X, sv / (sv + fv), weights = sv + fv, family = binomial(), offset = offset,
                           control = glm.control(epsilon = 1e-14, maxit = 200)))
}
bhat <- fit_aug(X, rep(0, length(sv)))$coefficients
dev_of <- function(j, b) fit_aug(X[, -j, drop = FALSE], b * X[, j])$deviance
dev_hat <- dev_of(1, bhat[1])
bound <- function(j, side) {
  g <- function(b) dev_of(j, b) - dev_hat - qchisq(0.95, 1)
  inner <- bhat[j]; step <- 1; outer <- inner + side * step
  while (g(outer) < 0) { inner <- outer; step <- step * 1.6; outer <- outer + side * step }
  uniroot(g, sort(c(inner, outer)), tol = 1e-13)$root
}
rows <- lapply(seq_len(ncol(X)), function(j) data.frame(
  term = j - 1, estimate = num17(bhat[j]), pl_lower = num17(bound(j, -1)), pl_upper = num17(bound(j, 1)),
  p_lr = num17(pchisq(max(0, dev_of(j, 0) - dev_hat), 1, lower.tail = FALSE))))
write.csv(do.call(rbind, rows), file.path(dir, "own_models_firth_expected.csv"), row.names = FALSE)

# ---------------------------------------------------------------- mixed model of log10 values
mixed <- read.csv(file.path(dir, "own_models_mixed_data.csv"), colClasses = c(patient_id = "character"))
levels_of <- read.csv(file.path(dir, "own_models_mixed_levels.csv"))
below <- mixed$below_lloq %in% c(TRUE, "True", "true")
mixed$y <- log10(ifelse(below, mixed$value * 0.5, mixed$value))
means <- list(); fits <- list()
ctrl <- lmeControl(maxIter = 200, msMaxIter = 200, tolerance = 1e-10, msTol = 1e-10)
for (name in unique(mixed$dataset)) {
  part <- mixed[mixed$dataset == name, ]
  part$g <- factor(part$cohort, levels = levels_of$cohort[levels_of$dataset == name])
  part$d <- factor(part$day, levels = sort(unique(part$day)))
  reml <- lme(y ~ d * g, random = ~ 1 | patient_id, data = part, method = "REML", control = ctrl)
  cells <- unique(part[, c("g", "d")])
  cells <- cells[order(cells$g, cells$d), ]
  L <- model.matrix(~ d * g, data = cells)
  est <- drop(L %*% fixef(reml))
  se <- sqrt(diag(L %*% vcov(reml) %*% t(L)))
  means[[name]] <- data.frame(dataset = name, cohort = as.character(cells$g), day = num17(as.numeric(as.character(cells$d))),
                              log10_mean = num17(est), se = num17(se))
  full <- update(reml, method = "ML")
  null <- lme(y ~ d, random = ~ 1 | patient_id, data = part, method = "ML", control = ctrl)
  vc <- as.numeric(VarCorr(reml)[, "Variance"])
  fits[[name]] <- data.frame(dataset = name, between = num17(vc[1]), residual = num17(vc[2]),
                             reml_loglik = num17(as.numeric(logLik(reml))),
                             lr = num17(2 * (as.numeric(logLik(full)) - as.numeric(logLik(null)))),
                             df = length(fixef(full)) - length(fixef(null)))
}
write.csv(do.call(rbind, means), file.path(dir, "own_models_mixed_means_expected.csv"), row.names = FALSE)
write.csv(do.call(rbind, fits), file.path(dir, "own_models_mixed_fit_expected.csv"), row.names = FALSE)

write.csv(data.frame(r_version = R.version.string, nlme = as.character(packageVersion("nlme")),
                     script = "tests/r/own_models.R"),
          file.path(dir, "own_models_session.csv"), row.names = FALSE)
