# Oracle for helpers.stats: R's fisher.test, chisq.test, binom.test and prop.test.
#
# Usage: Rscript --vanilla tests/r/contingency.R <dir>
#   reads  <dir>/contingency_cases.csv  (case_id, table = rows "|"-separated, cells ";"-separated)
#          <dir>/binomial_cases.csv     (case_id, k, n, level)
#   writes <dir>/contingency_expected.csv, <dir>/binomial_expected.csv, <dir>/r_session.csv
# Numbers are written with 17 significant digits so they read back as R's exact doubles.
# Normally run through r_oracle.run_rscript (see tests/test_stats_vs_r.py, which also
# regenerates the committed fixtures: python tests/test_stats_vs_r.py --regenerate).

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1L) stop("usage: Rscript contingency.R <exchange directory>")
dir <- args[1]

num17 <- function(x) vapply(x, function(v) if (is.na(v) && !is.nan(v)) "NA" else format(v, digits = 17), "")

parse_table <- function(text) {
  rows <- strsplit(strsplit(text, "|", fixed = TRUE)[[1]], ";", fixed = TRUE)
  m <- do.call(rbind, lapply(rows, as.numeric))
  storage.mode(m) <- "integer"
  m
}

# chisq.test, also returning whether R warned about small expected counts
chisq_with_warning <- function(m, correct) {
  warned <- FALSE
  res <- withCallingHandlers(
    chisq.test(m, correct = correct),
    warning = function(w) {
      if (grepl("approximation may be incorrect", conditionMessage(w))) warned <<- TRUE
      invokeRestart("muffleWarning")
    })
  list(statistic = unname(res$statistic), p = unname(res$p.value), df = unname(res$parameter),
       method = res$method, warned = warned)
}

cases <- read.csv(file.path(dir, "contingency_cases.csv"), colClasses = "character")
out <- lapply(seq_len(nrow(cases)), function(i) {
  m <- parse_table(cases$table[i])
  fisher <- fisher.test(m)$p.value
  yates <- chisq_with_warning(m, TRUE)
  plain <- chisq_with_warning(m, FALSE)
  data.frame(
    case_id = cases$case_id[i],
    nrow = nrow(m), ncol = ncol(m),
    fisher_p = num17(fisher),
    yates_statistic = num17(yates$statistic), yates_df = yates$df, yates_p = num17(yates$p),
    yates_method = yates$method, yates_warning = yates$warned,
    chisq_statistic = num17(plain$statistic), chisq_df = plain$df, chisq_p = num17(plain$p),
    chisq_warning = plain$warned,
    stringsAsFactors = FALSE)
})
write.csv(do.call(rbind, out), file.path(dir, "contingency_expected.csv"), row.names = FALSE)

binom <- read.csv(file.path(dir, "binomial_cases.csv"), colClasses = c("character", "integer", "integer", "numeric"))
out <- lapply(seq_len(nrow(binom)), function(i) {
  k <- binom$k[i]; n <- binom$n[i]; level <- binom$level[i]
  cp <- binom.test(k, n, conf.level = level)$conf.int
  wi <- suppressWarnings(prop.test(k, n, conf.level = level, correct = FALSE))$conf.int
  wc <- suppressWarnings(prop.test(k, n, conf.level = level, correct = TRUE))$conf.int
  data.frame(
    case_id = binom$case_id[i], k = k, n = n, level = num17(level),
    cp_lower = num17(cp[1]), cp_upper = num17(cp[2]),
    wilson_lower = num17(wi[1]), wilson_upper = num17(wi[2]),
    wilson_cc_lower = num17(wc[1]), wilson_cc_upper = num17(wc[2]),
    stringsAsFactors = FALSE)
})
write.csv(do.call(rbind, out), file.path(dir, "binomial_expected.csv"), row.names = FALSE)

write.csv(data.frame(r_version = R.version.string, platform = R.version$platform,
                     script = "tests/r/contingency.R", stringsAsFactors = FALSE),
          file.path(dir, "r_session.csv"), row.names = FALSE)
