# Oracle for helpers.stats.competing_risks: R's cmprsk (cuminc, timepoints, Gray's test, crr).
#
# Usage: Rscript --vanilla tests/r/cmprsk.R <dir>
#   reads  <dir>/cmprsk_cases.csv   (case_id, id, time, status, group, strata, x1, x2, cg)
#          <dir>/cmprsk_times.csv   (case_id, t): times for cmprsk::timepoints
#          <dir>/cmprsk_models.csv  (case_id, terms, failcode, cengroup, rho)
#   writes <dir>/cmprsk_*_expected.csv and <dir>/cmprsk_session.csv
# Numbers leave R with 17 significant digits. Run through r_oracle.run_rscript
# (tests/test_competing_risks_vs_r.py; regenerate with --regenerate).

suppressPackageStartupMessages(library(cmprsk))
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1L) stop("usage: Rscript cmprsk.R <exchange directory>")
dir <- args[1]
num17 <- function(x) vapply(x, function(v) if (is.na(v) && !is.nan(v)) "NA" else format(v, digits = 17), "")

cases <- read.csv(file.path(dir, "cmprsk_cases.csv"), colClasses = c("character", "character", "numeric",
                  "integer", "character", "character", "numeric", "numeric", "character"))
times <- read.csv(file.path(dir, "cmprsk_times.csv"), colClasses = c("character", "numeric"))
models <- read.csv(file.path(dir, "cmprsk_models.csv"), colClasses = c("character", "character", "integer",
                   "character", "numeric"))

ci_rows <- list(); tp_rows <- list(); gray_rows <- list(); crr_rows <- list(); crrfit_rows <- list()

for (cid in unique(cases$case_id)) {
  d <- cases[cases$case_id == cid, ]
  rho <- if (cid %in% models$case_id) models$rho[models$case_id == cid][1] else 0
  for (stratified in c(FALSE, TRUE)) {
    if (stratified && length(unique(d$strata)) < 2) next
    ci <- if (stratified) cuminc(d$time, d$status, d$group, strata = d$strata, rho = rho)
          else cuminc(d$time, d$status, d$group, rho = rho)
    if (!is.null(ci$Tests)) {
      tst <- ci$Tests
      gray_rows[[length(gray_rows) + 1]] <- data.frame(
        case_id = cid, stratified = stratified, rho = rho, cause = rownames(tst), stat = num17(tst[, "stat"]),
        pv = num17(tst[, "pv"]), df = tst[, "df"], stringsAsFactors = FALSE)
    }
    if (stratified) next
    curves <- ci[names(ci) != "Tests"]
    for (nm in names(curves)) {
      cv <- curves[[nm]]
      ci_rows[[length(ci_rows) + 1]] <- data.frame(
        case_id = cid, curve = nm, k = seq_along(cv$time), time = num17(cv$time), est = num17(cv$est),
        var = num17(cv$var), stringsAsFactors = FALSE)
    }
    tt <- times$t[times$case_id == cid]
    tp <- timepoints(ci, tt)
    for (nm in rownames(tp$est)) {
      est <- tp$est[nm, ]; vr <- tp$var[nm, ]
      z <- qnorm(0.975)
      # CI on the log(-log) scale (the transform tidycmprsk uses); [0, 0] while nothing has happened
      lower <- ifelse(est == 0, 0, ifelse(est < 1, est^exp(z * sqrt(vr) / (est * abs(log(est)))), NA))
      upper <- ifelse(est == 0, 0, ifelse(est < 1, est^exp(-z * sqrt(vr) / (est * abs(log(est)))), NA))
      tp_rows[[length(tp_rows) + 1]] <- data.frame(
        case_id = cid, curve = nm, t = num17(as.numeric(colnames(tp$est))), est = num17(unname(est)),
        var = num17(unname(vr)), lower = num17(unname(lower)), upper = num17(unname(upper)),
        stringsAsFactors = FALSE)
    }
  }
}

for (i in seq_len(nrow(models))) {
  m <- models[i, ]
  if (nchar(m$terms) == 0) next
  d <- cases[cases$case_id == m$case_id, ]
  terms <- strsplit(m$terms, ";", fixed = TRUE)[[1]]
  cov <- as.matrix(d[, terms, drop = FALSE])
  fit <- if (m$cengroup == "yes") crr(d$time, d$status, cov, failcode = m$failcode, cengroup = d$cg)
         else crr(d$time, d$status, cov, failcode = m$failcode)
  se <- sqrt(diag(fit$var))
  z <- fit$coef / se
  model_id <- paste(m$case_id, m$failcode, m$cengroup, sep = "/")
  crr_rows[[length(crr_rows) + 1]] <- data.frame(
    model_id = model_id, term = terms, coef = num17(unname(fit$coef)), se = num17(unname(se)),
    z = num17(unname(z)), p = num17(unname(2 * (1 - pnorm(abs(z))))),
    lower = num17(unname(exp(fit$coef - qnorm(0.975) * se))), upper = num17(unname(exp(fit$coef + qnorm(0.975) * se))),
    var_row = vapply(seq_along(terms), function(j) paste(num17(fit$var[j, ]), collapse = ";"), ""),
    stringsAsFactors = FALSE)
  crrfit_rows[[length(crrfit_rows) + 1]] <- data.frame(
    model_id = model_id, loglik = num17(fit$loglik), loglik_null = num17(fit$loglik.null),
    converged = fit$converged, n = fit$n, stringsAsFactors = FALSE)
}

out <- function(rows, name) write.csv(do.call(rbind, rows), file.path(dir, name), row.names = FALSE)
out(ci_rows, "cmprsk_cuminc_expected.csv")
out(tp_rows, "cmprsk_timepoints_expected.csv")
out(gray_rows, "cmprsk_gray_expected.csv")
out(crr_rows, "cmprsk_crr_expected.csv")
out(crrfit_rows, "cmprsk_crrfit_expected.csv")
write.csv(data.frame(r_version = R.version.string, platform = R.version$platform,
                     cmprsk = as.character(packageVersion("cmprsk")), script = "tests/r/cmprsk.R",
                     stringsAsFactors = FALSE), file.path(dir, "cmprsk_session.csv"), row.names = FALSE)
