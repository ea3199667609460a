# Oracle for the ADaM intake (tests/test_adam_intake.py): R's survival package run directly on the
# pharmaverse ADTTE data (survfit, survdiff, coxph with Efron ties), independently of the mapping
# helpers.intake applies.
#
# Usage: Rscript --vanilla tests/r/adam_survival.R <dir>
#   reads  <dir>/adam_adtte.csv  (USUBJID, ARM, PARAMCD, AVAL, CNSR): the OS and PFS records of ADTTE
#   writes <dir>/adam_km_expected.csv, adam_logrank_expected.csv, adam_cox_expected.csv, adam_session.csv
# Endpoints: OS and PFS as ADTTE holds them (time AVAL, event 1 - CNSR); "PFS_last_contact", PFS
# with its censoring moved to the OS time (a PFS event keeps its AVAL; a censored PFS is censored at
# the OS AVAL), which is what a table holding one follow-up time per patient can express; and
# "PFS_within_followup", PFS with only a censoring after the OS time moved back to it (a tumour
# assessment dated after the last-alive date cannot lie within a table's follow-up).
# Numbers leave R with 17 significant digits. Regenerate: python tests/test_adam_intake.py --regenerate

suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1L) stop("usage: Rscript adam_survival.R <exchange directory>")
dir <- args[1]
num17 <- function(x) vapply(x, function(v) if (is.na(v) && !is.nan(v)) "NA" else format(v, digits = 17), "")

adtte <- read.csv(file.path(dir, "adam_adtte.csv"), colClasses = c("character", "character", "character",
                  "numeric", "integer"))
os <- adtte[adtte$PARAMCD == "OS", ]
pfs <- adtte[adtte$PARAMCD == "PFS", ]
endpoints <- list(
  OS = data.frame(id = os$USUBJID, arm = os$ARM, time = os$AVAL, status = 1L - os$CNSR),
  PFS = data.frame(id = pfs$USUBJID, arm = pfs$ARM, time = pfs$AVAL, status = 1L - pfs$CNSR))
last_contact <- os$AVAL[match(pfs$USUBJID, os$USUBJID)]
endpoints$PFS_last_contact <- data.frame(id = pfs$USUBJID, arm = pfs$ARM, status = 1L - pfs$CNSR,
                                         time = ifelse(pfs$CNSR == 0L, pfs$AVAL, last_contact))
endpoints$PFS_within_followup <- data.frame(id = pfs$USUBJID, arm = pfs$ARM, status = 1L - pfs$CNSR,
                                            time = ifelse(pfs$CNSR == 0L, pfs$AVAL, pmin(pfs$AVAL, last_contact)))

km_rows <- list(); lr_rows <- list(); cox_rows <- list()
for (name in names(endpoints)) {
  d <- endpoints[[name]]
  d$xanomeline <- as.integer(d$arm != "Placebo")
  for (g in c("(all)", sort(unique(d$arm)))) {
    part <- if (g == "(all)") d else d[d$arm == g, ]
    fit <- survfit(Surv(time, status) ~ 1, data = part, conf.type = "log-log")
    km_rows[[length(km_rows) + 1]] <- data.frame(
      endpoint = name, group = g, time = num17(fit$time), n_risk = fit$n.risk, n_event = fit$n.event,
      n_censor = fit$n.censor, surv = num17(fit$surv), std_err = num17(fit$std.err),
      lower = num17(fit$lower), upper = num17(fit$upper), stringsAsFactors = FALSE)
  }
  sd <- survdiff(Surv(time, status) ~ arm, data = d)
  df <- sum(sd$exp > 0) - 1
  lr_rows[[length(lr_rows) + 1]] <- data.frame(
    endpoint = name, chisq = num17(sd$chisq), df = df, p = num17(pchisq(sd$chisq, df, lower.tail = FALSE)),
    stringsAsFactors = FALSE)
  # the arm as a factor (Placebo the reference) where every arm has an event: OS has no death on the high
  # dose, so its hazard ratio has no finite estimate; any dose against placebo for every endpoint
  models <- list(any_dose = Surv(time, status) ~ xanomeline)
  if (all(tapply(d$status, d$arm, sum) > 0)) models$arm <- Surv(time, status) ~ arm
  for (model in names(models)) {
    fit <- coxph(models[[model]], data = d, ties = "efron")
    s <- summary(fit)$coefficients
    cox_rows[[length(cox_rows) + 1]] <- data.frame(
      endpoint = name, model = model, term = rownames(s), coef = num17(s[, "coef"]), se = num17(s[, "se(coef)"]),
      p = num17(s[, "Pr(>|z|)"]), stringsAsFactors = FALSE)
  }
}
write.csv(do.call(rbind, km_rows), file.path(dir, "adam_km_expected.csv"), row.names = FALSE)
write.csv(do.call(rbind, lr_rows), file.path(dir, "adam_logrank_expected.csv"), row.names = FALSE)
write.csv(do.call(rbind, cox_rows), file.path(dir, "adam_cox_expected.csv"), row.names = FALSE)
write.csv(data.frame(r_version = R.version.string, survival = as.character(packageVersion("survival"))),
          file.path(dir, "adam_session.csv"), row.names = FALSE)
