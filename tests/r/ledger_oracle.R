# Independent oracle for the reproduction ledger: every row whose basis is "synthetic" (the
# published numbers and the papers' claims), recomputed in R from the cohort CSVs alone.
#
# Usage: Rscript --vanilla tests/r/ledger_oracle.R <data dir> <output csv>
#   <data dir> holds the study folders 000/, 003/ and 004/ in the book's data contract
#   (patients.csv, outcomes.csv, responses.csv, treatments.csv, adverse_events.csv, labs.csv,
#   kinetics.csv). Nothing written by the book's Python code is read.
#   <output csv> gets one row per register_id (a claim's row: its claim_id):
#   register_id, value, p_value, method.
#     value   the number at full precision (17 significant digits), in the unit of the ledger's
#             "reproduced" column: percentages in percent, P values as fractions, hazard ratios
#             as ratios, times in months of 365.25 / 12 days, counts as counts; for a claim, its
#             estimate in the claim's measure (risk difference as a fraction, odds / hazard
#             ratio, Hodges-Lehmann ratio, difference of cumulative incidences as a fraction).
#     p_value a claim's P value (17 significant digits); empty on the rows of numbers.
#     method  the R function(s) used; for a k/n proportion it ends with "k/n = <k>/<n>" so the
#             counts themselves can be checked, not only the percentage. A claim this script
#             does not recompute has value and p_value NA and a method starting
#             "not covered: " followed by the reason (see the list at the end of this header).
# Committed output: tests/fixtures/r/ledger_oracle.csv, with the sha256 of the data it was
# computed from in tests/fixtures/r/ledger_oracle.sha256 (helpers.reproduction.crosscheck
# compares it with the built ledger and decides when the committed output may stand in for a
# live run; tests/test_ledger_oracle.py checks both, and a fresh run of this script).
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
# The claims (data/published_claims.csv; the chapters' book.ledger.claim calls and
# helpers.chapters.claims at commit 9b04a6e, re-implemented here, not called). Every estimate
# is "the claim's factor against its reference" (CML-LBC vs Ph+ ALL, mutated vs not, factor
# present vs absent); the ledger prints it and P to 3 significant digits and decides the status
# from them by the register's rule, which helpers.reproduction.crosscheck applies to R's values.
#   * difference of proportions (claims.proportion_difference): k1/n1 - k2/n2 as a fraction,
#     two-sided fisher.test on the 2x2 table. Used for: ABL1 KD mutation by cohort (all
#     patients); response and MRD-negative CR by cohort among the evaluable, overall and within
#     overt disease / MRD-positive; severe CRS (worst grade 3-4) by cohort among the graded;
#     relapse by cohort among responders with allo-HSCT after day 0; 004 remission, non-CNS EMD
#     vs every other evaluable patient; 003 CR after salvage, blinatumomab/inotuzumab vs other
#     salvage, among the salvage-treated evaluable after progression.
#   * adverse events (toxicity.adverse_event_table, "any grade"): for every (category, term) of
#     the adverse-event rows, sorted by category then term (byte order), the graded patients of
#     each cohort with a worst grade >= 1; the claim takes the comparison with the smallest
#     Fisher P (claims.closest_to_a_difference; the first one on a tie).
#   * survival differences (claims.survival_difference): survdiff log-rank P, estimate the hazard
#     ratio of a univariable coxph (Efron). 000: OS by cohort (all), LFS by cohort and by ABL1 KD
#     mutation (responders); 004: OS (all) and RFS (responders) by any extramedullary disease
#     (missing read as "none"), tregs_high and high_risk_genetics.
#   * Cox terms (claims.cox_term): exp(coef) and the Wald P of coxph (Efron). 000: LFS ~ kd +
#     lbc (responders), terms kd and lbc; the conclusion claim takes the larger P of lbc in that
#     model and in OS ~ kd + lbc (all patients) (claims.weakest_of). 004: OS ~ emd + tregs (term
#     emd), RFS ~ emd + tregs among responders (term tregs). 003: survival after progression ~
#     months from infusion to progression (all 38 progressed).
#   * CIR (survival chapter): cuminc cause 1 at 24 months, CML-LBC minus Ph+ ALL as a fraction,
#     Gray's P (cuminc$Tests), responders.
#   * univariable logistic regression (response.analysis_frame_000, claims.logistic_term): the
#     evaluable patients of 000, 0/1 factors overt disease, marrow blasts >= 10 % (the paper's
#     cut-off, register row 000-threshold-bm-blasts), ABL1 KD mutation, CML-LBC; outcome
#     response. The book fits maximum likelihood unless the fit is separated; for one binary
#     factor that is exactly a zero cell of the 2x2 table, and with none R's glm (binomial)
#     gives exp(coef) and the likelihood-ratio P of drop1(test = "LRT"). A zero cell would mean
#     Firth's estimate, which this script does not compute: the row would say "not covered".
#   * cytokines (cytokines.peaks / compare_groups): each patient's highest value (below-limit
#     values as recorded) of each analyte on days 0-28, log10; wilcox.test P (R's exact/normal
#     rules, continuity correction); estimate 10^(median of all pairwise differences), the
#     Hodges-Lehmann ratio the book prints (not wilcox.test's estimate, which under the normal
#     approximation is a root of the statistic). The claim takes the smallest P over the six
#     analytes, in the order IL-6, IL-10, TNF-alpha, IFN-gamma, CRP, ferritin.
#   * CAR-T expansion (stats.nca_table, expansion.study_000_comparisons, kinetics.compare_kinetics):
#     per patient Cmax = highest quantifiable level (all days), Cmax0-28 = highest quantifiable
#     level on days <= 28, AUC0-28 = linear-up/log-down trapezoids over days 0-28 after the PKNCA
#     below-limit rule (leading and trailing below-limit samples -> 0, those between quantifiable
#     ones dropped; a day-0 level of 0 added when the first sample is later; the level at day 28
#     interpolated the same way, with the log-down rule decided again on the interpolated
#     level; NA when the last usable sample is before day 28). wilcox.test(log10 values,
#     conf.int = TRUE): P, estimate 10^wilcox.test's own estimate. Patients without a value are
#     left out. Month claim: the smaller P of Cmax0-28 and AUC0-28 (all patients; the first on
#     a tie); active-disease and MRD-positive claims: Cmax within those patients.
#
# Rows that cannot be recomputed: two claims, both from the multivariable logistic model of
# response in study 000, whose maximum-likelihood fit is separated so that the book reports
# Firth's penalised-likelihood fit (firthmodels: estimate, likelihood-ratio P with the term
# fixed at 0 under the full model's penalty). logistf is not in Debian's archive, and the exact
# identity tests/r/logistic.R uses for Firth (a saturated model equals glm on the counts + 1/2)
# does not hold for a model of four factors:
#   000-claim-multi-ablkd-response  (the ABL1 KD term of that Firth fit)
#   000-claim-multi-lbc-response    (the larger P of the CML-LBC term in that Firth fit and in the
#                                    ML model of MRD-negative CR: the Firth fit's, as printed)
# Every other synthetic-basis ledger row (64 numbers and 34 claims at commit 9b04a6e) is
# written below.

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
# p_value: a claim's P; the rows of numbers leave it empty
put <- function(register_id, value, method, p_value = NULL) {
  if (register_id %in% names(rows)) stop("register_id written twice: ", register_id)
  rows[[register_id]] <<- data.frame(register_id = register_id, value = num17(as.numeric(value)),
                                     p_value = if (is.null(p_value)) "" else num17(as.numeric(p_value)),
                                     method = method, stringsAsFactors = FALSE)
}
put_prop <- function(register_id, k, n, method) {
  put(register_id, if (n > 0) 100 * k / n else NaN, sprintf("%s; k/n = %d/%d", method, as.integer(k),
                                                             as.integer(n)))
}
put_not_covered <- function(claim_id, reason) put(claim_id, NA, paste0("not covered: ", reason), p_value = NA)

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

# ------------------------------------------------------------------- claims --
# One row per claim: value = the estimate (the claim's factor against its reference), p_value = P.
put_claim <- function(claim_id, evidence) put(claim_id, evidence$estimate, evidence$method, p_value = evidence$p)

# claims.proportion_difference: k1/n1 - k2/n2 and the two-sided Fisher exact P
proportion_difference <- function(k1, n1, k2, n2, what) {
  p <- fisher.test(matrix(c(k1, n1 - k1, k2, n2 - k2), nrow = 2L, byrow = TRUE))$p.value
  list(estimate = k1 / n1 - k2 / n2, p = p,
       method = sprintf("fisher.test, %d/%d vs %d/%d %s", as.integer(k1), as.integer(n1), as.integer(k2),
                        as.integer(n2), what))
}
# claims.survival_difference: log-rank P; the direction from a univariable Cox hazard ratio
survival_difference <- function(time, event, factor, what) {
  factor <- as.integer(factor)
  fit <- coxph(Surv(time, event) ~ factor, ties = "efron")
  list(estimate = unname(exp(coef(fit))[1]), p = logrank_p(time, event, factor),
       method = paste0("survdiff P; exp(coef(coxph(Surv ~ factor, ties = 'efron'))); ", what))
}
# claims.cox_term: one covariate of a fitted coxph, hazard ratio and Wald P
cox_term <- function(fit, term, what) {
  s <- summary(fit)$coefficients
  list(estimate = s[term, "exp(coef)"], p = s[term, "Pr(>|z|)"], method = paste0("coxph Wald P, term ", term, "; ", what))
}
# claims.weakest_of (largest P) / closest_to_a_difference (smallest P); the first one on a tie
weakest_of <- function(evidence) evidence[[which.max(vapply(evidence, function(e) e$p, 0))]]
closest_to_a_difference <- function(evidence) {
  e <- evidence[[which.min(vapply(evidence, function(e) e$p, 0))]]
  e$method <- sprintf("smallest P of %d comparisons: %s", length(evidence), e$method)
  e
}
# ML logistic regression of a 0/1 outcome on one 0/1 factor; NULL when the fit is separated (a zero
# cell of the 2x2 table), where the book would report Firth's estimate instead
univariable_logistic <- function(frame, outcome, term) {
  d <- frame[!is.na(frame[[term]]) & !is.na(frame[[outcome]]), ]
  cells <- table(factor(d[[term]], levels = 0:1), factor(d[[outcome]], levels = 0:1))
  if (any(cells == 0)) return(NULL)
  fit <- glm(reformulate(term, outcome), family = binomial, data = d,
             control = glm.control(epsilon = 1e-14, maxit = 100))
  lr <- drop1(fit, test = "LRT")
  list(estimate = unname(exp(coef(fit)[term])), p = lr[term, "Pr(>Chi)"],
       method = sprintf("glm(%s ~ %s, binomial) ML, drop1 LRT P; %d patients", outcome, term, nrow(d)))
}
# Wilcoxon rank-sum on log10 values, estimate the Hodges-Lehmann ratio = 10^median of the pairwise
# differences (cytokines.compare_groups) or 10^wilcox.test's estimate (kinetics.compare_kinetics)
rank_sum <- function(x, y, estimate = c("median of differences", "wilcox.test"), what) {
  estimate <- match.arg(estimate)
  x <- log10(x[!is.na(x)])
  y <- log10(y[!is.na(y)])
  wt <- suppressWarnings(wilcox.test(x, y, conf.int = (estimate == "wilcox.test"), correct = TRUE))
  shift <- if (estimate == "wilcox.test") unname(wt$estimate) else median(outer(x, y, "-"))
  list(estimate = 10^shift, p = wt$p.value,
       method = sprintf("%s on log10, %d vs %d; ratio 10^(%s); %s", wt$method, length(x), length(y), estimate, what))
}

# --- study 000, baselines: ABL1 kinase-domain mutation by cohort
kd_all <- lgl(p0$abl_kd_mutation) %in% TRUE
lbc0 <- p0$cohort == "CML-LBC"
phall0 <- p0$cohort == "Ph+ ALL"
put_claim("000-claim-ablkd-higher-in-lbc", proportion_difference(
  sum(kd_all & lbc0), sum(lbc0), sum(kd_all & phall0), sum(phall0), "carrying an ABL1 KD mutation"))

# --- study 000, response: rates by cohort among the evaluable, overall and by baseline status
rate_difference <- function(frame, flag, what) {
  e <- frame[frame$evaluable, ]
  a <- e[e$cohort == "CML-LBC", ]
  b <- e[e$cohort == "Ph+ ALL", ]
  proportion_difference(sum(a[[flag]]), nrow(a), sum(b[[flag]]), nrow(b), what)
}
put_claim("000-claim-response-lbc-lower", rate_difference(cl0, "response", "responding"))
put_claim("000-claim-mrdnegcr-lbc-lower", rate_difference(cl0, "mrd_negative_cr", "with an MRD-negative CR"))
put_claim("000-claim-mrdnegcr-rr-lbc-lower",
          rate_difference(cl0[cl0$overt, ], "mrd_negative_cr", "with an MRD-negative CR, overt disease"))
put_claim("000-claim-mrdnegcr-mrdpos-lbc-lower",
          rate_difference(cl0[!cl0$overt, ], "mrd_negative_cr", "with an MRD-negative CR, MRD-positive"))

# --- study 000, response: univariable logistic regressions (response.analysis_frame_000)
BLAST_CUTOFF <- 10  # % marrow blasts, the paper's cut-off (register row 000-threshold-bm-blasts)
evaluable0 <- cl0$evaluable
blasts0 <- num(p0$marrow_blasts_pct)
frame0 <- data.frame(
  overt = as.integer(cl0$overt), blasts_ge_cutoff = as.integer(blasts0 >= BLAST_CUTOFF),
  abl_kd = as.integer(lgl(p0$abl_kd_mutation)), cml_lbc = as.integer(lbc0),
  response = as.integer(cl0$response), mrd_negative_cr = as.integer(cl0$mrd_negative_cr))[evaluable0, ]
for (factor_term in list(c("overt-relapse", "overt"), c("bm-blasts", "blasts_ge_cutoff"), c("ablkd", "abl_kd"),
                         c("lbc", "cml_lbc"))) {
  claim_id <- sprintf("000-claim-uni-%s-response", factor_term[1])
  evidence <- univariable_logistic(frame0, "response", factor_term[2])
  if (is.null(evidence)) {
    put_not_covered(claim_id, paste0("the ML fit on ", factor_term[2], " is separated (a zero cell), so the book ",
                                     "reports Firth's estimate, which this script does not compute"))
  } else {
    put_claim(claim_id, evidence)
  }
}
FIRTH_REASON <- paste("the multivariable ML logistic fit of response is separated, so the book reports Firth's",
                      "penalised-likelihood fit (firthmodels); logistf is not in Debian's archive and the",
                      "saturated-model identity of tests/r/logistic.R does not hold for four factors")
put_not_covered("000-claim-multi-lbc-response",
                paste(FIRTH_REASON, "(the claim takes the larger P of that fit's CML-LBC term and the ML model of",
                      "MRD-negative CR's; the Firth fit's is the larger)"))
put_not_covered("000-claim-multi-ablkd-response", paste(FIRTH_REASON, "(its ABL1 KD term)"))

# --- study 000, toxicity: severe CRS; every adverse event at any grade
put_claim("000-claim-crs-severe-no-difference", proportion_difference(
  sum(crs0[graded0$cohort == "CML-LBC"] >= 3 & crs0[graded0$cohort == "CML-LBC"] <= 4), sum(graded0$cohort == "CML-LBC"),
  sum(crs0[graded0$cohort == "Ph+ ALL"] >= 3 & crs0[graded0$cohort == "Ph+ ALL"] <= 4), sum(graded0$cohort == "Ph+ ALL"),
  "with severe (grade 3-4) CRS, graded"))
terms0 <- unique(ae0[, c("category", "term")])
terms0 <- terms0[order(terms0$category, terms0$term, method = "radix"), ]
ae_any_grade <- lapply(seq_len(nrow(terms0)), function(i) {
  keep <- ae0$category == terms0$category[i] & ae0$term == terms0$term[i]
  worst <- worst_grade(ae0, graded0$patient_id, keep)
  a <- graded0$cohort == "CML-LBC"
  b <- graded0$cohort == "Ph+ ALL"
  proportion_difference(sum(worst[a] >= 1), sum(a), sum(worst[b] >= 1), sum(b),
                        sprintf("with %s (%s) at any grade, graded", terms0$term[i], terms0$category[i]))
})
put_claim("000-claim-ae-organ-no-difference", closest_to_a_difference(ae_any_grade))

# --- study 000, cytokines: peak of each analyte on days 0-28, CML-LBC vs Ph+ ALL
cyto0 <- l0[l0$analyte %in% CYTOKINES & num(l0$day) >= 0 & num(l0$day) <= 28, ]
cytokine_tests <- lapply(CYTOKINES[CYTOKINES %in% cyto0$analyte], function(analyte) {
  rows_a <- cyto0[cyto0$analyte == analyte, ]
  peak_a <- tapply(num(rows_a$value), rows_a$patient_id, max)
  cohort_a <- p0$cohort[match(names(peak_a), p0$patient_id)]
  rank_sum(peak_a[cohort_a == "CML-LBC"], peak_a[cohort_a == "Ph+ ALL"], "median of differences",
           paste("peak", analyte, "days 0-28"))
})
put_claim("000-claim-cytokines-no-difference", closest_to_a_difference(cytokine_tests))

# --- study 000, expansion: non-compartmental Cmax, Cmax0-28 and AUC0-28 (stats.nca)
WINDOW_DAYS <- 28
auc_0_28 <- function(day, copies, below) {
  o <- order(day)
  day <- day[o]
  level <- copies[o]
  below <- below[o]
  q <- which(!below)
  first_q <- if (length(q)) min(q) else length(day) + 1L
  last_q <- if (length(q)) max(q) else 0L
  for (i in which(below)) level[i] <- if (i < first_q || i > last_q) 0 else NA  # PKNCA rule
  if (day[1] > 0) {
    day <- c(0, day)
    level <- c(0, level)
  }
  t <- day[!is.na(level)]
  c <- level[!is.na(level)]
  if (WINDOW_DAYS > max(t)) return(NA_real_)
  log_down <- function(c1, c2) c2 < c1 && c2 > 0 && c1 > 0
  total <- 0
  for (i in seq_len(length(t) - 1L)) {
    t1 <- t[i]
    t2 <- t[i + 1L]
    c1 <- c[i]
    c2 <- c[i + 1L]
    if (t1 >= WINDOW_DAYS) next
    if (t2 > WINDOW_DAYS) {
      w <- (WINDOW_DAYS - t1) / (t2 - t1)
      c2 <- if (log_down(c1, c2)) exp(log(c1) + w * (log(c2) - log(c1))) else c1 + w * (c2 - c1)
      t2 <- WINDOW_DAYS
    }
    total <- total + if (log_down(c1, c2)) (t2 - t1) * (c1 - c2) / log(c1 / c2) else (t2 - t1) * (c1 + c2) / 2
  }
  total
}
kin0 <- data.frame(patient_id = k0$patient_id, day = num(k0$day), copies = num(k0$copies_per_ug_gdna),
                   below = lgl(k0$below_lloq), stringsAsFactors = FALSE)
nca0 <- do.call(rbind, lapply(split(kin0, kin0$patient_id), function(g) {
  quant <- g[!g$below, ]
  early <- quant[quant$day <= WINDOW_DAYS, ]
  data.frame(patient_id = g$patient_id[1],
             cmax = if (nrow(quant)) max(quant$copies) else NA_real_,
             cmax_0_28 = if (nrow(early)) max(early$copies) else NA_real_,
             auc_0_28 = auc_0_28(g$day, g$copies, g$below), stringsAsFactors = FALSE)
}))
nca0 <- nca0[match(p0$patient_id, nca0$patient_id), ]  # every patient; no kinetics -> NA, left out
expansion_test <- function(value, subset, what) {
  rank_sum(nca0[[value]][subset & lbc0], nca0[[value]][subset & phall0], "wilcox.test", what)
}
everyone0 <- rep(TRUE, nrow(p0))
put_claim("000-claim-expansion-month-no-difference", closest_to_a_difference(list(
  expansion_test("cmax_0_28", everyone0, "peak within days 0-28, all patients"),
  expansion_test("auc_0_28", everyone0, "AUC0-28 (linear-up/log-down, PKNCA below-limit rule), all patients"))))
put_claim("000-claim-expansion-active-lbc-lower", expansion_test("cmax", active0, "peak, active disease"))
put_claim("000-claim-expansion-mrdpos-no-difference", expansion_test("cmax", !active0, "peak, MRD-positive"))

# --- study 000, survival
put_claim("000-claim-os-lbc-worse", survival_difference(f0$os_time, f0$os_event, f0$cohort == "CML-LBC", "OS, all"))
put_claim("000-claim-lfs-lbc-worse", survival_difference(resp0$lfs_time, resp0$lfs_event, resp0$lbc, "LFS, responders"))
put_claim("000-claim-lfs-ablkd-worse", survival_difference(resp0$lfs_time, resp0$lfs_event, resp0$kd, "LFS, responders"))
put("000-claim-cir-lbc-higher", tp["CML-LBC 1", 1] - tp["Ph+ ALL 1", 1],
    "cmprsk::timepoints(cuminc(lfs_time, cr_status, cohort), 24), cause 1, CML-LBC minus Ph+ ALL; Gray's P",
    p_value = ci$Tests["1", "pv"])
hsct_lbc <- bridged[bridged$cohort == "CML-LBC", ]
hsct_phall <- bridged[bridged$cohort == "Ph+ ALL", ]
put_claim("000-claim-hsct-relapse-lbc-higher", proportion_difference(
  sum(hsct_lbc$relapsed), nrow(hsct_lbc), sum(hsct_phall$relapsed), nrow(hsct_phall),
  "relapsing, responders with allo-HSCT after day 0"))
lfs_model <- "LFS ~ kd + lbc, responders"
put_claim("000-claim-cox-ablkd-lfs", cox_term(cox, "kd", lfs_model))
put_claim("000-claim-cox-lbc-lfs", cox_term(cox, "lbc", lfs_model))
os_adjusted <- coxph(Surv(os_time, os_event) ~ kd + lbc, ties = "efron",
                     data = transform(f0, kd = as.integer(abl_kd_mutation), lbc = as.integer(cohort == "CML-LBC")))
put_claim("000-claim-conclusion-lbc-independent", weakest_of(list(
  cox_term(cox, "lbc", lfs_model), cox_term(os_adjusted, "lbc", "OS ~ kd + lbc, all patients"))))

# --- study 003: remission duration and survival after progression; salvage response
put_claim("003-claim-remission-duration-postprog-survival", cox_term(
  coxph(Surv(pps_time, pps_event) ~ relapse_time, data = f3, ties = "efron"), "relapse_time",
  "survival after progression ~ months from infusion to progression"))
treated3 <- salvage & post$evaluable
put_claim("003-claim-blina-ino-cr-higher", proportion_difference(
  sum(treated3 & antibody & post$remission), sum(treated3 & antibody),
  sum(treated3 & !antibody & post$remission), sum(treated3 & !antibody),
  "in CR after salvage, blinatumomab/inotuzumab vs other salvage, evaluable after progression"))

# --- study 004: remission with non-CNS EMD; OS and RFS by EMD, Tregs and high-risk genetics
evaluable4 <- cl4$evaluable
put_claim("004-claim-emd-noncns-lowest-remission", proportion_difference(
  sum(cl4$remission[evaluable4 & emd]), sum(evaluable4 & emd),
  sum(cl4$remission[evaluable4 & !emd]), sum(evaluable4 & !emd),
  "in remission, non-CNS EMD vs every other evaluable patient"))
f4$emd <- as.integer(ifelse(is.na(p4$extramedullary_disease), "none", p4$extramedullary_disease) != "none")
f4$tregs <- as.integer(lgl(p4$tregs_high))
f4$high_risk_genetics <- as.integer(lgl(p4$high_risk_genetics))
resp4 <- f4[f4$responder, ]
for (factor_column in list(c("emd", "emd"), c("tregs", "tregs"), c("genetics", "high_risk_genetics"))) {
  put_claim(sprintf("004-claim-os-%s-lower", factor_column[1]),
            survival_difference(f4$os_time, f4$os_event, f4[[factor_column[2]]], "OS, all"))
  put_claim(sprintf("004-claim-rfs-%s-lower", factor_column[1]),
            survival_difference(resp4$lfs_time, resp4$lfs_event, resp4[[factor_column[2]]], "RFS, responders"))
}
put_claim("004-claim-cox-emd-os", cox_term(coxph(Surv(os_time, os_event) ~ emd + tregs, data = f4, ties = "efron"),
                                           "emd", "OS ~ emd + tregs, all patients"))
put_claim("004-claim-cox-tregs-rfs", cox_term(coxph(Surv(lfs_time, lfs_event) ~ emd + tregs, data = resp4,
                                                    ties = "efron"), "tregs", "RFS ~ emd + tregs, responders"))

out <- do.call(rbind, unname(rows))
write.csv(out, out_csv, row.names = FALSE, quote = 4L)
