# Reference values for whatworks.review.screening.agreement (Cohen's kappa of two screeners),
# produced by psych::cohen.kappa (its variance is Fleiss, Cohen & Everitt's 1969 large-sample one).
# Run from the repository root:  Rscript tests/reference/make_kappa.R
# Writes tests/reference/kappa.json: each 2 x 2 table (rows: first screener include / exclude;
# columns: second screener include / exclude) with kappa and its variance at full precision.
suppressMessages({
  library(psych)
  library(jsonlite)
})

tables <- list(
  wikipedia_50 = c(20, 5, 10, 15),          # the textbook example: kappa 0.4
  screening_lopsided = c(12, 9, 7, 972),    # few includes, most excluded by both
  screening_sample = c(31, 4, 11, 254),
  small = c(1, 1, 1, 2),
  perfect_with_both = c(5, 0, 0, 45),
  no_agreement_on_includes = c(0, 6, 4, 190),
  negative = c(2, 18, 15, 5)
)
out <- list()
for (name in names(tables)) {
  m <- matrix(tables[[name]], nrow = 2, byrow = TRUE)
  k <- cohen.kappa(m)
  out[[name]] <- list(table = tables[[name]], kappa = k$kappa, var_kappa = k$var.kappa,
                      n = sum(m))
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/kappa.json")
