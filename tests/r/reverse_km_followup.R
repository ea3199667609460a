# Median follow-up by the reverse Kaplan-Meier method: censoring is the event.
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(file.path(args[1], "outcomes.csv"))
months <- d$followup_days / (365.25 / 12)
fit <- survfit(Surv(months, 1 - d$died) ~ 1, conf.type = "log-log")
q <- quantile(fit, 0.5)
out <- data.frame(median = format(unname(q$quantile), digits = 17),
                  lower = format(unname(q$lower), digits = 17),
                  upper = format(unname(q$upper), digits = 17))
write.csv(out, file.path(args[1], "followup.csv"), row.names = FALSE)
