# Oracle for helpers.stats.nca: R's wilcox.test and t.test, and an AUC written independently in R.
#
# Usage: Rscript --vanilla tests/r/kinetics.R <dir>
#   reads  <dir>/kinetics_rank_cases.csv  (case_id, description, scale, x, y: values ";"-separated;
#                                          scale "log10" means both groups are log10-transformed first)
#          <dir>/kinetics_nca_cases.csv   (case_id, description, day, level: ";"-separated, end)
#   writes <dir>/kinetics_rank_expected.csv, <dir>/kinetics_nca_expected.csv,
#          <dir>/kinetics_r_session.csv
# Numbers leave R with 17 significant digits. Normally run through r_oracle.run_rscript
# (tests/test_kinetics.py; regenerate the committed fixtures with
#  python tests/test_kinetics.py --regenerate).

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1L) stop("usage: Rscript kinetics.R <exchange directory>")
dir <- args[1]

num17 <- function(x) vapply(x, function(v) if (is.na(v) && !is.nan(v)) "NA" else format(v, digits = 17), "")
split_num <- function(text) as.numeric(strsplit(text, ";", fixed = TRUE)[[1]])

# ---- rank-sum and Welch tests -------------------------------------------------------------
cases <- read.csv(file.path(dir, "kinetics_rank_cases.csv"), colClasses = "character")
out <- lapply(seq_len(nrow(cases)), function(i) {
  x <- split_num(cases$x[i]); y <- split_num(cases$y[i])
  if (cases$scale[i] == "log10") { x <- log10(x); y <- log10(y) }
  w <- suppressWarnings(wilcox.test(x, y, conf.int = TRUE, conf.level = 0.95))
  tt <- if (length(x) >= 2 && length(y) >= 2) t.test(x, y) else NULL
  data.frame(
    case_id = cases$case_id[i], n_x = length(x), n_y = length(y),
    W = num17(unname(w$statistic)), p_value = num17(w$p.value), method = w$method,
    estimate = num17(unname(w$estimate)), ci_lower = num17(w$conf.int[1]), ci_upper = num17(w$conf.int[2]),
    t = if (is.null(tt)) "NA" else num17(unname(tt$statistic)),
    df = if (is.null(tt)) "NA" else num17(unname(tt$parameter)),
    t_p_value = if (is.null(tt)) "NA" else num17(tt$p.value),
    t_estimate = if (is.null(tt)) "NA" else num17(unname(tt$estimate[1] - tt$estimate[2])),
    t_ci_lower = if (is.null(tt)) "NA" else num17(tt$conf.int[1]),
    t_ci_upper = if (is.null(tt)) "NA" else num17(tt$conf.int[2]),
    stringsAsFactors = FALSE)
})
write.csv(do.call(rbind, out), file.path(dir, "kinetics_rank_expected.csv"), row.names = FALSE)

# ---- trapezoidal AUC, written from the textbook definitions -----------------------------
# linear: straight line between samples; log-down: exponential between two positive samples
# when the level falls. The level at `end` between two samples is interpolated the same way.
seg_area <- function(t1, c1, t2, c2, logdown) {
  if (logdown && c2 < c1 && c2 > 0) (t2 - t1) * (c1 - c2) / log(c1 / c2) else (t2 - t1) * (c1 + c2) / 2
}
interp <- function(t1, c1, t2, c2, at, logdown) {
  if (logdown && c2 < c1 && c2 > 0) exp(log(c1) + (at - t1) / (t2 - t1) * log(c2 / c1))
  else c1 + (at - t1) / (t2 - t1) * (c2 - c1)
}
auc_to <- function(t, cc, end, logdown) {
  if (end > max(t)) return(NA_real_)
  total <- 0
  for (k in seq_len(length(t) - 1L)) {
    if (t[k] >= end) break
    t2 <- t[k + 1L]; c2 <- cc[k + 1L]
    if (t2 > end) { c2 <- interp(t[k], cc[k], t2, c2, end, logdown); t2 <- end }
    total <- total + seg_area(t[k], cc[k], t2, c2, logdown)
  }
  total
}
nca <- read.csv(file.path(dir, "kinetics_nca_cases.csv"), colClasses = "character")
out <- lapply(seq_len(nrow(nca)), function(i) {
  t <- split_num(nca$day[i]); cc <- split_num(nca$level[i]); end <- as.numeric(nca$end[i])
  data.frame(
    case_id = nca$case_id[i],
    cmax = num17(max(cc)), tmax = num17(t[which.max(cc)]),
    auc_linear = num17(auc_to(t, cc, end, FALSE)), auc_logdown = num17(auc_to(t, cc, end, TRUE)),
    stringsAsFactors = FALSE)
})
write.csv(do.call(rbind, out), file.path(dir, "kinetics_nca_expected.csv"), row.names = FALSE)

write.csv(data.frame(r_version = R.version.string, platform = R.version$platform,
                     script = "tests/r/kinetics.R", stringsAsFactors = FALSE),
          file.path(dir, "kinetics_r_session.csv"), row.names = FALSE)
