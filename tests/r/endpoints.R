# Oracle for the endpoints of a reader's cohort (helpers.clinical.endpoints, chapters.own_endpoints):
# EFS, duration of response and GRFS by survival::survfit/survdiff, count recovery and a
# centre-coded event by cmprsk::cuminc (Aalen-Johansen and Gray's test), each derived HERE from
# the raw contract tables (patients, responses, outcomes, events), not from the book's times.
#
# Usage: Rscript --vanilla tests/r/endpoints.R <dir>
#   reads  <dir>/endpoints_{patients,responses,outcomes,events}.csv (contract tables)
#   writes <dir>/endpoints_{derived,km,median,logrank,cif,gray}_expected.csv, endpoints_session.csv
# Run through r_oracle (tests/test_endpoints_vs_r.py; regenerate with --regenerate).

suppressPackageStartupMessages({library(survival); library(cmprsk)})
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1L) stop("usage: Rscript endpoints.R <exchange directory>")
dir <- args[1]
num17 <- function(x) vapply(x, function(v) if (is.na(v)) "NA" else format(v, digits = 17), "")
rd <- function(name) read.csv(file.path(dir, paste0("endpoints_", name, ".csv")), stringsAsFactors = FALSE,
                              na.strings = "")
pt <- rd("patients"); rs <- rd("responses"); oc <- rd("outcomes"); ev <- rd("events")
month <- 365.25 / 12
d <- merge(pt[, c("patient_id", "cohort", "diagnosis", "disease_status")],
           oc[, c("patient_id", "followup_days", "relapsed", "relapse_day", "died")], by = "patient_id")
d$relapsed <- toupper(d$relapsed) == "TRUE"; d$died <- toupper(d$died) == "TRUE"

# Response: CR/CRi, or PR for lymphoma, myeloma and CLL; the first one before any relapse.
pr_dx <- c("large B-cell lymphoma", "other B-cell lymphoma", "multiple myeloma", "CLL")
r <- merge(rs, d[, c("patient_id", "diagnosis", "relapse_day")], by = "patient_id")
r$readable <- r$morphologic != "not_evaluable"
r$before <- is.na(r$relapse_day) | r$day < r$relapse_day
r$good <- r$morphologic %in% c("CR", "CRi") | (r$morphologic == "PR" & r$diagnosis %in% pr_dx)
ok <- r[r$readable & r$before & r$good, ]
first_day <- tapply(ok$day, ok$patient_id, min)
assessed <- unique(r$patient_id[r$readable & r$before])
d$response_day <- as.numeric(first_day[d$patient_id])
zero <- !is.na(d$disease_status) & d$disease_status == "complete_remission" &
        (!is.na(d$response_day) | !(d$patient_id %in% assessed))
d$response_day[zero] <- 0
d$responded <- !is.na(d$response_day)
end <- ifelse(d$relapsed, d$relapse_day, d$followup_days)
d$efs_time <- ifelse(d$responded, end, 0) / month
d$efs_event <- ifelse(d$responded, as.integer(d$relapsed | d$died), 1L)
d$dor_time <- (end - d$response_day) / month
d$dor_event <- as.integer(d$relapsed | d$died)

# GRFS: first of acute GVHD grade 3-4, chronic GVHD (any row), relapse, death.
first_of <- function(rows) { x <- tapply(rows$day, rows$patient_id, min); as.numeric(x[d$patient_id]) }
agvhd <- first_of(ev[ev$event == "acute_gvhd" & !is.na(ev$grade) & ev$grade >= 3, ])
cgvhd <- first_of(ev[ev$event == "chronic_gvhd", ])
g <- pmin(agvhd, cgvhd, ifelse(d$relapsed, d$relapse_day, NA), ifelse(d$died, d$followup_days, NA), na.rm = TRUE)
d$grfs_event <- as.integer(!is.na(g))
d$grfs_time <- ifelse(is.na(g), d$followup_days, g) / month

km_rows <- list(); med_rows <- list(); lr_rows <- list(); der_rows <- list()
km_times <- c(0, 1, 3, 6, 12, 24)
for (ep in c("efs", "dor", "grfs")) {
  u <- if (ep == "dor") d[d$responded, ] else d
  tt <- u[[paste0(ep, "_time")]]; ee <- u[[paste0(ep, "_event")]]
  fit <- survfit(Surv(tt, ee) ~ cohort, data = u, conf.type = "log-log")
  s <- summary(fit, times = km_times, extend = FALSE)
  km_rows[[ep]] <- data.frame(endpoint = ep, cohort = sub("^cohort=", "", as.character(s$strata)),
                              time = s$time, surv = num17(s$surv), lower = num17(s$lower),
                              upper = num17(s$upper), n_risk = s$n.risk, stringsAsFactors = FALSE)
  tab <- summary(fit)$table
  med_rows[[ep]] <- data.frame(endpoint = ep, cohort = sub("^cohort=", "", rownames(tab)), n = tab[, "records"],
                               events = tab[, "events"], median = num17(tab[, "median"]),
                               lower = num17(tab[, "0.95LCL"]), upper = num17(tab[, "0.95UCL"]),
                               stringsAsFactors = FALSE)
  sd <- survdiff(Surv(tt, ee) ~ cohort, data = u)
  df <- sum(sd$exp > 0) - 1
  lr_rows[[ep]] <- data.frame(endpoint = ep, chisq = num17(sd$chisq), df = df,
                              p = num17(pchisq(sd$chisq, df, lower.tail = FALSE)), stringsAsFactors = FALSE)
}

# Cumulative incidence: first day of the event (status 1), death without it (2), censored (0).
cif_rows <- list(); gray_rows <- list()
cif_times <- c(0.25, 0.5, 1, 3, 6, 12)
for (code in c("anc_recovery", "platelet_recovery", "cmv_reactivation")) {
  day <- first_of(ev[ev$event == code, ])
  status <- ifelse(!is.na(day), 1L, ifelse(d$died, 2L, 0L))
  time <- ifelse(!is.na(day), day, d$followup_days) / month
  der_rows[[code]] <- data.frame(endpoint = code, cohort = d$cohort, n = 1, events = as.integer(status == 1),
                                 competing = as.integer(status == 2))
  ci <- cuminc(time, status, d$cohort)
  tp <- timepoints(ci, cif_times)
  for (nm in grep(" 1$", rownames(tp$est), value = TRUE)) {
    cif_rows[[paste(code, nm)]] <- data.frame(event = code, cohort = sub(" 1$", "", nm), time = cif_times,
                                              est = num17(unname(tp$est[nm, ])), var = num17(unname(tp$var[nm, ])),
                                              stringsAsFactors = FALSE)
  }
  gray_rows[[code]] <- data.frame(event = code, stat = num17(ci$Tests["1", "stat"]), pv = num17(ci$Tests["1", "pv"]),
                                  df = ci$Tests["1", "df"], stringsAsFactors = FALSE)
}

# Per-cohort counts of what was derived (patients, events), so a derivation slip shows by name.
for (ep in c("efs", "dor", "grfs")) {
  u <- if (ep == "dor") d[d$responded, ] else d
  der_rows[[ep]] <- data.frame(endpoint = ep, cohort = u$cohort, n = 1, events = u[[paste0(ep, "_event")]],
                               competing = 0L)
}
der <- do.call(rbind, der_rows)
der <- aggregate(cbind(n, events, competing) ~ endpoint + cohort, data = der, FUN = sum)
der <- der[order(der$endpoint, der$cohort), ]

out <- function(rows, name) write.csv(do.call(rbind, rows), file.path(dir, name), row.names = FALSE)
write.csv(der, file.path(dir, "endpoints_derived_expected.csv"), row.names = FALSE)
out(km_rows, "endpoints_km_expected.csv")
out(med_rows, "endpoints_median_expected.csv")
out(lr_rows, "endpoints_logrank_expected.csv")
out(cif_rows, "endpoints_cif_expected.csv")
out(gray_rows, "endpoints_gray_expected.csv")
write.csv(data.frame(r_version = R.version.string, platform = R.version$platform,
                     survival = as.character(packageVersion("survival")),
                     cmprsk = as.character(packageVersion("cmprsk")), script = "tests/r/endpoints.R",
                     stringsAsFactors = FALSE), file.path(dir, "endpoints_session.csv"), row.names = FALSE)
