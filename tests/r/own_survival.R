# Survival models of a reader's cohort, fitted by R on the design the book chose:
# Cox (Efron ties) of OS and LFS, Gray's test and Fine-Gray (cmprsk::crr) of relapse.
suppressPackageStartupMessages({library(survival); library(cmprsk)})
args <- commandArgs(trailingOnly = TRUE)
f17 <- function(x) format(x, digits = 17)
fit_cox <- function(d, time, event, name) {
  terms <- setdiff(names(d), c(time, event))
  fit <- coxph(as.formula(paste0("Surv(", time, ", ", event, ") ~ ", paste(terms, collapse = " + "))),
               data = d, ties = "efron")
  data.frame(model = name, term = names(coef(fit)), coef = f17(unname(coef(fit))),
             se = f17(unname(sqrt(diag(fit$var)))))
}
os <- read.csv(file.path(args[1], "os.csv"))
lfs <- read.csv(file.path(args[1], "lfs.csv"))
write.csv(rbind(fit_cox(os, "os_time", "os_event", "os"), fit_cox(lfs, "lfs_time", "lfs_event", "lfs")),
          file.path(args[1], "cox.csv"), row.names = FALSE)
cr <- read.csv(file.path(args[1], "competing.csv"))
ci <- cuminc(cr$lfs_time, cr$cr_status, cr$cohort)
write.csv(data.frame(cause = c(1, 2), statistic = f17(ci$Tests[, "stat"]), p = f17(ci$Tests[, "pv"])),
          file.path(args[1], "gray.csv"), row.names = FALSE)
terms <- setdiff(names(cr), c("lfs_time", "cr_status", "cohort"))
fg <- crr(cr$lfs_time, cr$cr_status, as.matrix(cr[, terms, drop = FALSE]), failcode = 1, cencode = 0)
write.csv(data.frame(term = terms, coef = f17(unname(fg$coef)), se = f17(sqrt(diag(fg$var)))),
          file.path(args[1], "fine_gray.csv"), row.names = FALSE)
