# Reference values for whatworks.review.narrative.sign_test (vote counting based on the direction
# of effect): R's binom.test (two-sided exact binomial test of 0.5) and prop.test without continuity
# correction, whose interval is Wilson's score interval.
# Run from the repository root:  Rscript tests/reference/make_sign_test.R
# Writes tests/reference/sign_test.json: one entry per (favouring, n, confidence).
suppressMessages(library(jsonlite))

cases <- list(c(0, 1), c(1, 1), c(4, 5), c(7, 10), c(0, 12), c(12, 12), c(15, 20), c(3, 9),
              c(50, 80), c(1, 2), c(6, 6), c(9, 25), c(33, 34))
out <- list()
for (conf in c(0.95, 0.9)) {
  for (case in cases) {
    k <- case[1]
    n <- case[2]
    wilson <- suppressWarnings(prop.test(k, n, p = 0.5, conf.level = conf, correct = FALSE))$conf.int
    out[[length(out) + 1]] <- list(favouring = k, n = n, confidence = conf,
                                   p_value = binom.test(k, n, p = 0.5)$p.value,
                                   ci_low = wilson[1], ci_high = wilson[2])
  }
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/sign_test.json")
