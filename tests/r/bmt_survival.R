# The survival analyses of Klein & Moeschberger's bmt data, computed by R straight from the data
# set's own columns (t1/d1 death, t2 disease-free time, d2 relapse, d3 relapse or death, z1 age,
# z3 male), independently of the book's conversion into its contract.
suppressPackageStartupMessages({library(survival); library(cmprsk)})
args <- commandArgs(trailingOnly = TRUE)
f17 <- function(x) format(x, digits = 17)
b <- read.csv(file.path(args[1], "bmt.csv"))
month <- 365.25 / 12
b$cohort <- factor(c("ALL", "AML low risk", "AML high risk")[b$group],
                   levels = c("AML low risk", "AML high risk", "ALL"))  # largest cohort first
km <- function(time, event, name) {
  fit <- survfit(Surv(time / month, event) ~ cohort, data = b, conf.type = "log-log")
  s <- summary(fit, times = c(12, 24))
  data.frame(endpoint = name, cohort = sub("cohort=", "", as.character(s$strata)), time = s$time,
             surv = f17(s$surv), lower = f17(s$lower), upper = f17(s$upper))
}
write.csv(rbind(km(b$t1, b$d1, "os"), km(b$t2, b$d3, "lfs")), file.path(args[1], "km.csv"), row.names = FALSE)
lr <- function(time, event, name) {
  t <- survdiff(Surv(time, event) ~ cohort, data = b)
  data.frame(endpoint = name, chisq = f17(t$chisq), p = f17(pchisq(t$chisq, length(t$n) - 1, lower.tail = FALSE)))
}
write.csv(rbind(lr(b$t1, b$d1, "os"), lr(b$t2, b$d3, "lfs")), file.path(args[1], "logrank.csv"), row.names = FALSE)
cox <- function(time, event, name) {
  fit <- coxph(Surv(time / month, event) ~ cohort + I(z1 / 10) + z3, data = b, ties = "efron")
  data.frame(endpoint = name, term = c("AML high risk", "ALL", "age", "male"),
             coef = f17(unname(coef(fit))), se = f17(unname(sqrt(diag(fit$var)))))
}
write.csv(rbind(cox(b$t1, b$d1, "os"), cox(b$t2, b$d3, "lfs")), file.path(args[1], "cox.csv"), row.names = FALSE)
status <- ifelse(b$d2 == 1, 1, ifelse(b$d1 == 1, 2, 0))  # relapse; death in remission; censored
ci <- cuminc(b$t2 / month, status, b$cohort)
write.csv(data.frame(cause = c(1, 2), statistic = f17(ci$Tests[, "stat"]), p = f17(ci$Tests[, "pv"])),
          file.path(args[1], "gray.csv"), row.names = FALSE)
X <- cbind(high = b$cohort == "AML high risk", all = b$cohort == "ALL", age = b$z1 / 10, male = b$z3)
fg <- crr(b$t2 / month, status, X, failcode = 1, cencode = 0)
write.csv(data.frame(term = c("AML high risk", "ALL", "age", "male"), coef = f17(unname(fg$coef)),
                     se = f17(sqrt(diag(fg$var)))), file.path(args[1], "fine_gray.csv"), row.names = FALSE)
