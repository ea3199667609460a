# Klein & Moeschberger's bone-marrow transplant data (R package KMsurv, Debian r-cran-kmsurv):
# 137 patients with acute leukaemia transplanted in remission, times in days from transplant.
suppressPackageStartupMessages(library(KMsurv))
args <- commandArgs(trailingOnly = TRUE)
data(bmt)
write.csv(bmt, file.path(args[1], "bmt.csv"), row.names = FALSE)
