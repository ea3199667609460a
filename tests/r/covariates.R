# Cox model of a reader's cohort with declared covariates, fitted by R from the raw columns:
# the cohort and a three-level centre as factors (reference = the first level given), donor age
# per 10 years and CMV serostatus as 0/1; Efron ties, as the book.
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
f17 <- function(x) format(x, digits = 17)
if (file.exists(file.path(args[1], "cox.csv"))) {
  d <- read.csv(file.path(args[1], "cox.csv"), stringsAsFactors = FALSE)
  d$cohort <- factor(d$cohort, levels = strsplit(d$cohort_levels[1], ";")[[1]])
  d$centre <- factor(d$centre, levels = strsplit(d$centre_levels[1], ";")[[1]])
  fit <- coxph(Surv(os_time, os_event) ~ cohort + centre + I(donor_age / 10) + cmv_positive, data = d,
               ties = "efron")
  write.csv(data.frame(term = names(coef(fit)), coef = f17(unname(coef(fit))), se = f17(sqrt(diag(fit$var)))),
            file.path(args[1], "coef.csv"), row.names = FALSE)
}

# KMsurv's bmt from its own columns (not the book's conversion), when given: overall survival
# (t1, d1) and disease-free survival (t2, d3) on the disease group (reference AML low risk),
# patient age per 10 years, patient sex (z3 male), donor age per 10 years (z2), donor sex
# (z4 male) and the CMV serostatus of patient and donor (z5, z6).
if (file.exists(file.path(args[1], "bmt.csv"))) {
  b <- read.csv(file.path(args[1], "bmt.csv"))
  b$group <- factor(b$group, levels = c(2, 3, 1))
  fits <- list(os = coxph(Surv(t1, d1) ~ group + I(z1 / 10) + z3 + I(z2 / 10) + z4 + z5 + z6, data = b, ties = "efron"),
               lfs = coxph(Surv(t2, d3) ~ group + I(z1 / 10) + z3 + I(z2 / 10) + z4 + z5 + z6, data = b, ties = "efron"))
  out <- do.call(rbind, lapply(names(fits), function(n) data.frame(
    endpoint = n, term = names(coef(fits[[n]])), coef = f17(unname(coef(fits[[n]]))),
    se = f17(sqrt(diag(fits[[n]]$var))))))
  write.csv(out, file.path(args[1], "bmt_coef.csv"), row.names = FALSE)
}
