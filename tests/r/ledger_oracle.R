# Independent oracle for the reproduction ledger: every row whose basis is "synthetic",
# recomputed in R from the cohort CSVs alone.
#
# Usage: Rscript --vanilla tests/r/ledger_oracle.R <data dir> <output csv>
#   <data dir> holds the study folders 000/, 003/ and 004/ in the book's data contract
#   (patients.csv, outcomes.csv, responses.csv, treatments.csv, adverse_events.csv, labs.csv,
#   kinetics.csv). Nothing written by the book's Python code is read.
#   <output csv> gets one row per register_id: register_id, value, method.
#     value  the number at full precision (17 significant digits), in the unit of the ledger's
#            "reproduced" column: percentages in percent, P values as fractions, hazard ratios
#            as ratios, times in months of 365.25 / 12 days, counts as counts.
#     method the R function(s) used; for a k/n proportion it ends with "k/n = <k>/<n>" so the
#            counts themselves can be checked, not only the percentage.
# Committed output: tests/fixtures/r/ledger_oracle.csv (tests/test_ledger_oracle.py compares it
# with the built ledger and, with a live Rscript, with a fresh run of this script).
#
# Definitions follow the book (src/helpers at commit f154b66, re-implemented here, not called):
#   * months = days / (365.25 / 12)                             (survival.DAYS_PER_MONTH)
#   * response flags (response.classify): an assessment is readable unless morphologic is
#     "not_evaluable"; evaluable = any readable assessment; remission = any readable CR/CRi;
#     MRD-negative CR = any readable CR/CRi with mrd_flow "negative"; CMR = any readable
#     molecular "CMR"; response = remission for overt disease (primary refractory, first or
#     later relapse, unspecified R/R, refractory blast phase), remission or CMR otherwise.
#     Rates are among the evaluable patients.
#   * survival frame (survival.outcome_frame): OS = follow-up, death, everyone; responder =
#     CR/CRi at the FIRST assessment (earliest day; first non-missing value); LFS/RFS =
#     responders, relapse day if relapsed else follow-up, event relapse or death; competing
#     status 1 relapse, 2 death in remission, 0 censored; transplant = first allo-HSCT with
#     start_day > 0; survival after progression = follow-up minus relapse day, event death.
#   * KM rates: survfit + summary(times =); medians: quantile.survfit; follow-up: reverse KM
#     median, range of all observed times; log-rank: survdiff; Cox: coxph (Efron ties), Wald P;
#     CIR: cmprsk::cuminc + timepoints, Gray's test from cuminc$Tests; peak copies: Wilcoxon
#     rank-sum on log10 of the highest quantifiable level (R's exact/normal rules).
#   * toxicity (toxicity.graded_population / crs_counts / patients_with_grade): graded =
#     patients with any adverse-event row; CRS = worst CRS grade >= 1, severe = grade 3-4;
#     study 004 grade 4 = any grade-4 row outside category "cytopenia".
#   * cytokine monitoring (cytokines.monitoring): patients with any labs row of IL-6, IL-10,
#     TNF-alpha, IFN-gamma, CRP or ferritin.
#   * study 003 salvage (response.salvage_response): salvage = any treatment starting after the
#     relapse day; antibody salvage = blinatumomab or inotuzumab started after it; CR = remission
#     at an assessment after the relapse day, among those evaluable after progression.
#
# Rows that cannot be recomputed: none. Every synthetic-basis ledger row (64 at commit f154b66)
# is written below.

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 2L) stop("usage: Rscript ledger_oracle.R <data dir> <output csv>")
data_dir <- args[1]
out_csv <- args[2]

DAYS_PER_MONTH <- 365.25 / 12
REMISSION <- c("CR", "CRi")
RELAPSED_REFRACTORY <- c("primary_refractory", "first_relapse", "second_or_later_relapse",
                         "relapsed_refractory_unspecified", "blast_phase_refractory")
CYTOKINES <- c("IL-6", "IL-10", "TNF-alpha", "IFN-gamma", "CRP", "ferritin")

num17 <- function(v) if (is.na(v) && !is.nan(v)) "NA" else format(v, digits = 17)

rows <- list()
put <- function(register_id, value, method) {
  if (register_id %in% names(rows)) stop("register_id written twice: ", register_id)
  rows[[register_id]] <<- data.frame(register_id = register_id, value = num17(as.numeric(value)),
                                     method = method, stringsAsFactors = FALSE)
}
put_prop <- function(register_id, k, n, method) {
  put(register_id, if (n > 0) 100 * k / n else NaN, sprintf("%s; k/n = %d/%d", method, as.integer(k),
                                                             as.integer(n)))
}

read_table <- function(study, table) {
  path <- file.path(data_dir, study, paste0(table, ".csv"))
  if (!file.exists(path)) stop("missing ", path)
  d <- read.csv(path, colClasses = "character", na.strings = "", check.names = FALSE,
                strip.white = TRUE, encoding = "UTF-8")
  d
}
lgl <- function(x) {
  out <- as.logical(x)  # "True"/"False", "TRUE"/"FALSE", "true"/"false"
  bad <- !is.na(x) & is.na(out)
  if (any(bad)) stop("not a boolean: ", paste(head(unique(x[bad])), collapse = ", "))
  out
}
num <- function(x) as.numeric(x)
readable <- function(morphologic) is.na(morphologic) | morphologic != "not_evaluable"

# response.classify: per-patient flags over the assessments in an optional window day > after
classify <- function(patients, responses, after = NULL) {
  r <- responses
  r$day <- num(r$day)
  if (!is.null(after)) {
    lim <- after[match(r$patient_id, patients$patient_id)]
    lim[is.na(lim)] <- -Inf
    r <- r[r$day > lim, , drop = FALSE]
  }
  rd <- r[readable(r$morphologic), , drop = FALSE]
  rem <- !is.na(rd$morphologic) & rd$morphologic %in% REMISSION
  any_by <- function(flag) {
    ids <- unique(rd$patient_id[flag])
    patients$patient_id %in% ids
  }
  evaluable <- patients$patient_id %in% unique(rd$patient_id)
  remission <- any_by(rem)
  mrd_neg <- any_by(rem & !is.na(rd$mrd_flow) & rd$mrd_flow == "negative")
  cmr <- any_by(!is.na(rd$molecular) & rd$molecular == "CMR")
  overt <- patients$disease_status %in% RELAPSED_REFRACTORY
  response <- ifelse(overt, remission, remission | cmr)
  data.frame(patient_id = patients$patient_id, cohort = patients$cohort, overt = overt,
             evaluable = evaluable, remission = remission & evaluable,
             mrd_negative_cr = mrd_neg & evaluable, cmr = cmr & evaluable,
             response = response & evaluable, stringsAsFactors = FALSE)
}

# survival.outcome_frame
outcome_frame <- function(tab) {
  p <- tab$patients
  o <- tab$outcomes
  o <- o[match(p$patient_id, o$patient_id), ]
  if (any(is.na(o$patient_id))) stop("patients without an outcomes row")
  fu <- num(o$followup_days)
  rel <- lgl(o$relapsed)
  rd <- num(o$relapse_day)
  died <- lgl(o$died)
  f <- data.frame(patient_id = p$patient_id, cohort = p$cohort, stringsAsFactors = FALSE)
  f$os_time <- fu / DAYS_PER_MONTH
  f$os_event <- as.integer(died)
  # first assessment: earliest day (stable for ties), first non-missing morphologic
  first <- rep(NA_character_, nrow(p))
  if (!is.null(tab$responses) && nrow(tab$responses)) {
    r <- tab$responses
    r <- r[order(r$patient_id, num(r$day), method = "radix"), ]
    m <- r[!is.na(r$morphologic), ]
    m <- m[!duplicated(m$patient_id), ]
    first <- m$morphologic[match(p$patient_id, m$patient_id)]
  }
  f$responder <- !is.na(first) & first %in% REMISSION
  f$relapsed <- rel
  f$relapse_time <- ifelse(rel, rd / DAYS_PER_MONTH, NA)
  f$lfs_time <- ifelse(f$responder, ifelse(rel, rd, fu) / DAYS_PER_MONTH, NA)
  f$lfs_event <- ifelse(f$responder, as.integer(rel | died), NA)
  f$cr_status <- ifelse(f$responder, ifelse(rel, 1L, ifelse(died, 2L, 0L)), -1L)
  f$pps_time <- ifelse(rel, (fu - rd) / DAYS_PER_MONTH, NA)
  f$pps_event <- ifelse(rel, as.integer(died), NA)
  f$hsct_time <- NA_real_
  if (!is.null(tab$treatments) && nrow(tab$treatments)) {
    tx <- tab$treatments
    hs <- tx[tx$category == "allo-HSCT" & num(tx$start_day) > 0, ]
    if (nrow(hs)) {
      first_tx <- tapply(num(hs$start_day), hs$patient_id, min)
      f$hsct_time <- unname(first_tx[f$patient_id]) / DAYS_PER_MONTH
    }
  }
  f$abl_kd_mutation <- lgl(p$abl_kd_mutation)
  f
}

km_at <- function(time, event, at) {
  fit <- survfit(Surv(time, event) ~ 1, conf.type = "log-log")
  s <- summary(fit, times = at)
  if (length(s$surv) == 0) NA_real_ else s$surv[1]
}
km_median <- function(time, event) {
  fit <- survfit(Surv(time, event) ~ 1, conf.type = "log-log")
  unname(quantile(fit, probs = 0.5, conf.int = FALSE))
}
logrank_p <- function(time, event, group) {
  sd <- survdiff(Surv(time, event) ~ group)
  pchisq(sd$chisq, df = length(sd$n) - 1L, lower.tail = FALSE)
}

studies <- c("000", "003", "004")
tables <- c("patients", "outcomes", "responses", "treatments", "adverse_events", "labs", "kinetics")
cohorts <- list()
for (s in studies) {
  cohorts[[s]] <- list()
  for (t in tables) {
    path <- file.path(data_dir, s, paste0(t, ".csv"))
    if (file.exists(path)) cohorts[[s]][[t]] <- read_table(s, t)
  }
}

KEYS <- c("CML-LBC" = "lbc", "Ph+ ALL" = "phall")

# ------------------------------------------------------------------ study 000 --
c0 <- cohorts[["000"]]
p0 <- c0$patients
in_cohort <- function(frame, cohort) frame$cohort == cohort

# baselines: cohort sizes, disease status, ABL1 kinase-domain mutations, bridged to HSCT
for (cohort in names(KEYS)) put(paste0("000-n-", KEYS[[cohort]]), sum(p0$cohort == cohort), "nrow(subset(patients, cohort))")
put("000-n-all", nrow(p0), "nrow(patients)")
for (level in c("primary_refractory", "first_relapse", "second_or_later_relapse", "mrd_positive")) {
  for (cohort in names(KEYS)) {
    m <- p0[in_cohort(p0, cohort), ]
    put_prop(sprintf("000-status-%s-%s", level, KEYS[[cohort]]),
             sum(m$disease_status == level, na.rm = TRUE), nrow(m), "sum(disease_status == level)/nrow()")
  }
}
for (cohort in names(KEYS)) {
  m <- p0[in_cohort(p0, cohort), ]
  put_prop(paste0("000-ablkd-", KEYS[[cohort]]), sum(lgl(m$abl_kd_mutation) %in% TRUE), nrow(m),
           "sum(abl_kd_mutation)/nrow()")
}
for (cohort in names(KEYS)) {
  m <- p0[in_cohort(p0, cohort), ]
  put(paste0("000-hsct-n-", KEYS[[cohort]]), sum(lgl(m$bridged_to_hsct), na.rm = TRUE),
      "sum(bridged_to_hsct, na.rm = TRUE)")
}

# response: study 000's endpoint and MRD-negative CR, overall and within R/R and MRD+ subgroups
cl0 <- classify(p0, c0$responses)
for (cohort in names(KEYS)) {
  key <- KEYS[[cohort]]
  e <- cl0[cl0$cohort == cohort & cl0$evaluable, ]
  put_prop(paste0("000-response-", key), sum(e$response), nrow(e), "sum(response)/sum(evaluable)")
  put_prop(paste0("000-mrdnegcr-", key), sum(e$mrd_negative_cr), nrow(e), "sum(mrd_negative_cr)/sum(evaluable)")
  rr <- e[e$overt, ]
  put_prop(paste0("000-mrdnegcr-rr-", key), sum(rr$mrd_negative_cr), nrow(rr),
           "sum(mrd_negative_cr)/sum(evaluable), overt disease")
  mp <- e[!e$overt, ]
  put_prop(paste0("000-mrdnegcr-mrdpos-", key), sum(mp$mrd_negative_cr), nrow(mp),
           "sum(mrd_negative_cr)/sum(evaluable), MRD-positive")
}

# toxicity: CRS among the graded patients
worst_grade <- function(ae, ids, keep) {
  rows <- ae[keep, ]
  g <- tapply(num(rows$grade), rows$patient_id, max)
  out <- unname(g[ids])
  out[is.na(out)] <- 0
  out
}
ae0 <- c0$adverse_events
graded0 <- p0[p0$patient_id %in% ae0$patient_id, ]
crs0 <- worst_grade(ae0, graded0$patient_id, ae0$category == "CRS")
put_prop("000-crs-any-all", sum(crs0 >= 1), length(crs0), "tapply(grade, patient_id, max) >= 1, graded")
for (cohort in names(KEYS)) {
  g <- crs0[graded0$cohort == cohort]
  put_prop(paste0("000-crs-severe-", KEYS[[cohort]]), sum(g >= 3 & g <= 4), length(g),
           "tapply(grade, patient_id, max) in 3:4, graded")
}

# cytokines: patients with any cytokine sample
l0 <- c0$labs
monitored <- sum(p0$patient_id %in% l0$patient_id[l0$analyte %in% CYTOKINES])
put("000-cytokines-monitored-all", monitored, "sum(patient_id %in% labs$patient_id[analyte %in% cytokines])")

# expansion: active disease = every status except flow-MRD positive; peak = highest quantifiable level
active0 <- is.na(p0$disease_status) | p0$disease_status != "mrd_positive"
for (cohort in names(KEYS)) {
  put(paste0("000-expansion-active-n-", KEYS[[cohort]]), sum(active0 & p0$cohort == cohort),
      "sum(disease_status != 'mrd_positive')")
}
k0 <- c0$kinetics
kq <- k0[!lgl(k0$below_lloq), ]
cmax <- tapply(num(kq$copies_per_ug_gdna), kq$patient_id, max)
peak <- unname(cmax[p0$patient_id])
x <- log10(peak[active0 & p0$cohort == "CML-LBC" & !is.na(peak)])
y <- log10(peak[active0 & p0$cohort == "Ph+ ALL" & !is.na(peak)])
wt <- suppressWarnings(wilcox.test(x, y, correct = TRUE))
put("000-expansion-active-peak-p", wt$p.value, paste0("wilcox.test(log10 peak): ", wt$method))

# survival
f0 <- outcome_frame(c0)
fu <- f0$os_time
put("000-followup-median", km_median(fu, 1L - f0$os_event),
    "quantile(survfit(Surv(os_time, 1 - died)), 0.5) (reverse Kaplan-Meier)")
put("000-followup-min", min(fu), "min(os_time)")
put("000-followup-max", max(fu), "max(os_time)")
for (cohort in names(KEYS)) {
  m <- f0[f0$cohort == cohort, ]
  put(paste0("000-os2y-", KEYS[[cohort]]), 100 * km_at(m$os_time, m$os_event, 24),
      "summary(survfit(Surv(os_time, died)), times = 24)")
}
put("000-os2y-p", logrank_p(f0$os_time, f0$os_event, f0$cohort), "survdiff(Surv(os_time, died) ~ cohort)")

resp0 <- f0[f0$responder, ]
resp0$kd <- as.integer(resp0$abl_kd_mutation)
resp0$lbc <- as.integer(resp0$cohort == "CML-LBC")
for (cohort in names(KEYS)) {
  m <- resp0[resp0$cohort == cohort, ]
  put(paste0("000-lfs2y-", KEYS[[cohort]]), 100 * km_at(m$lfs_time, m$lfs_event, 24),
      "summary(survfit(Surv(lfs_time, lfs_event)), times = 24), responders")
}
put("000-lfs2y-p", logrank_p(resp0$lfs_time, resp0$lfs_event, resp0$cohort),
    "survdiff(Surv(lfs_time, lfs_event) ~ cohort), responders")

ci <- cuminc(resp0$lfs_time, resp0$cr_status, resp0$cohort, cencode = 0)
tp <- timepoints(ci, 24)$est
for (cohort in names(KEYS)) {
  put(paste0("000-cir2y-", KEYS[[cohort]]), 100 * tp[paste(cohort, "1"), 1],
      "cmprsk::timepoints(cuminc(lfs_time, cr_status, cohort), 24), cause 1")
}
put("000-cir2y-p", ci$Tests["1", "pv"], "cmprsk::cuminc(lfs_time, cr_status, cohort)$Tests (Gray), cause 1")

bridged <- resp0[!is.na(resp0$hsct_time), ]
for (cohort in names(KEYS)) {
  m <- bridged[bridged$cohort == cohort, ]
  put_prop(paste0("000-hsct-relapse-", KEYS[[cohort]]), sum(m$relapsed), nrow(m),
           "sum(relapsed)/nrow(), responders with allo-HSCT after day 0")
}

for (level in c(1L, 0L)) {
  m <- resp0[resp0$kd == level, ]
  put(if (level == 1L) "000-lfs2y-ablkd-mut" else "000-lfs2y-ablkd-wt", 100 * km_at(m$lfs_time, m$lfs_event, 24),
      "summary(survfit(Surv(lfs_time, lfs_event)), times = 24), responders by ABL1 KD")
}
put("000-lfs2y-ablkd-p", logrank_p(resp0$lfs_time, resp0$lfs_event, resp0$kd),
    "survdiff(Surv(lfs_time, lfs_event) ~ kd), responders")

cox <- coxph(Surv(lfs_time, lfs_event) ~ kd + lbc, data = resp0, ties = "efron")
cs <- summary(cox)$coefficients
put("000-cox-ablkd-hr", cs["kd", "exp(coef)"], "coxph(Surv(lfs_time, lfs_event) ~ kd + lbc, ties = 'efron')")
put("000-cox-ablkd-p", cs["kd", "Pr(>|z|)"], "coxph(..., ties = 'efron'), Wald P")
put("000-cox-lbc-hr", cs["lbc", "exp(coef)"], "coxph(Surv(lfs_time, lfs_event) ~ kd + lbc, ties = 'efron')")
put("000-cox-lbc-p", cs["lbc", "Pr(>|z|)"], "coxph(..., ties = 'efron'), Wald P")

# ------------------------------------------------------------------ study 003 --
c3 <- cohorts[["003"]]
p3 <- c3$patients
put("003-n-all", nrow(p3), "nrow(patients)")
f3 <- outcome_frame(c3)
prog <- f3[f3$relapsed, ]
put("003-ttp-median", km_median(prog$relapse_time, rep(1L, nrow(prog))),
    "quantile(survfit(Surv(relapse_time, 1)), 0.5)")
put("003-os-postprog-median", km_median(prog$pps_time, prog$pps_event),
    "quantile(survfit(Surv(pps_time, died)), 0.5)")

o3 <- c3$outcomes
relapse_day <- num(o3$relapse_day)[match(p3$patient_id, o3$patient_id)]
tx3 <- c3$treatments
tx_prog <- relapse_day[match(tx3$patient_id, p3$patient_id)]
after <- tx3[!is.na(tx_prog) & num(tx3$start_day) > tx_prog, ]
salvage <- p3$patient_id %in% after$patient_id
antibody <- p3$patient_id %in% after$patient_id[after$category %in% c("blinatumomab", "inotuzumab")]
post <- classify(p3, c3$responses, after = relapse_day)
put_prop("003-salvage-all", sum(salvage), nrow(p3), "sum(any treatment start_day > relapse_day)/nrow()")
put_prop("003-salvage-cr", sum(salvage & post$evaluable & post$remission), sum(salvage & post$evaluable),
         "CR/CRi after relapse_day among salvage-treated evaluable after progression")
put("003-blina-ino-n", sum(antibody), "sum(blinatumomab or inotuzumab start_day > relapse_day)")
put_prop("003-blina-ino-cr", sum(antibody & post$evaluable & post$remission), sum(antibody & post$evaluable),
         "CR/CRi after relapse_day among antibody-treated evaluable after progression")

# ------------------------------------------------------------------ study 004 --
c4 <- cohorts[["004"]]
p4 <- c4$patients
put("004-n-all", nrow(p4), "nrow(patients)")
cl4 <- classify(p4, c4$responses)
put_prop("004-orr-all", sum(cl4$remission[cl4$evaluable]), sum(cl4$evaluable), "sum(remission)/sum(evaluable)")
emd <- !is.na(p4$extramedullary_disease) & p4$extramedullary_disease == "non_cns"
put_prop("004-orr-emd-noncns", sum(cl4$remission[cl4$evaluable & emd]), sum(cl4$evaluable & emd),
         "sum(remission)/sum(evaluable), non-CNS extramedullary disease")
f4 <- outcome_frame(c4)
put("004-os1y-all", 100 * km_at(f4$os_time, f4$os_event, 12), "summary(survfit(Surv(os_time, died)), times = 12)")
r4 <- f4[f4$responder, ]
put("004-rfs1y-all", 100 * km_at(r4$lfs_time, r4$lfs_event, 12),
    "summary(survfit(Surv(lfs_time, lfs_event)), times = 12), responders")
ae4 <- c4$adverse_events
graded4 <- p4$patient_id[p4$patient_id %in% ae4$patient_id]
g4 <- ae4[num(ae4$grade) == 4 & !(ae4$category %in% "cytopenia") & ae4$patient_id %in% graded4, ]
put_prop("004-grade4-ae-all", length(unique(g4$patient_id)), length(graded4),
         "length(unique(patient_id[grade == 4 & category != 'cytopenia']))/graded")

out <- do.call(rbind, unname(rows))
write.csv(out, out_csv, row.names = FALSE, quote = 3L)
