# Oracle for helpers.stats.rank.mann_whitney: R's wilcox.test(x, y, conf.int = TRUE).
#
# Usage: Rscript --vanilla tests/r/wilcox.R <dir>
#   reads  <dir>/wilcox_cases.csv   (case_id, x, y = values ";"-separated, alternative,
#                                    exact = TRUE/FALSE/NA, correct = TRUE/FALSE, conf_level)
#   writes <dir>/wilcox_expected.csv (W, P, method, estimate, CI, achieved conf.level, warnings,
#                                     and the median of all pairwise differences)
#          <dir>/wilcox_session.csv  (R version)
# Numbers leave R with 17 significant digits so they read back as R's exact doubles.
# Normally run through r_oracle.run_rscript (tests/test_cytokines_vs_r.py, which also
# regenerates the committed fixtures: python tests/test_cytokines_vs_r.py --regenerate).

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1L) stop("usage: Rscript wilcox.R <exchange directory>")
dir <- args[1]

num17 <- function(x) vapply(x, function(v) if (is.na(v) && !is.nan(v)) "NA" else format(v, digits = 17), "")
values <- function(text) as.numeric(strsplit(text, ";", fixed = TRUE)[[1]])

cases <- read.csv(file.path(dir, "wilcox_cases.csv"), colClasses = "character", na.strings = character(0))
out <- lapply(seq_len(nrow(cases)), function(i) {
  x <- values(cases$x[i]); y <- values(cases$y[i])
  exact <- switch(cases$exact[i], "TRUE" = TRUE, "FALSE" = FALSE, "NA" = NULL)
  caught <- character(0)
  res <- withCallingHandlers(
    wilcox.test(x, y, alternative = cases$alternative[i], exact = exact,
                correct = as.logical(cases$correct[i]), conf.int = TRUE,
                conf.level = as.numeric(cases$conf_level[i])),
    warning = function(w) {
      caught <<- c(caught, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  data.frame(
    case_id = cases$case_id[i], n_x = length(x), n_y = length(y),
    statistic = num17(unname(res$statistic)), p_value = num17(res$p.value),
    method = res$method,
    estimate = num17(unname(res$estimate)),
    ci_lower = num17(res$conf.int[1]), ci_upper = num17(res$conf.int[2]),
    conf_level = num17(attr(res$conf.int, "conf.level")),
    median_difference = num17(median(outer(x, y, "-"))),
    warnings = paste(caught, collapse = " | "),
    stringsAsFactors = FALSE)
})
write.csv(do.call(rbind, out), file.path(dir, "wilcox_expected.csv"), row.names = FALSE)
write.csv(data.frame(r_version = R.version.string, platform = R.version$platform,
                     script = "tests/r/wilcox.R", stringsAsFactors = FALSE),
          file.path(dir, "wilcox_session.csv"), row.names = FALSE)
