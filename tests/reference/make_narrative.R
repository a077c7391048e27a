# Reference values for whatworks.review.narrative (synthesis without meta-analysis):
# - sign_test: R's binom.test (two-sided exact binomial test of 0.5) and prop.test without
#   continuity correction, whose interval is Wilson's score interval;
# - quantiles: the median, quartiles (R's default type 7) and range of sets of effect estimates.
# Run from the repository root:  Rscript tests/reference/make_narrative.R
# Writes tests/reference/narrative.json.
suppressMessages(library(jsonlite))

cases <- list(c(0, 1), c(1, 1), c(4, 5), c(7, 10), c(0, 12), c(12, 12), c(15, 20), c(3, 9),
              c(50, 80), c(1, 2), c(6, 6), c(9, 25), c(33, 34))
sign_test <- list()
for (conf in c(0.95, 0.9)) {
  for (case in cases) {
    k <- case[1]
    n <- case[2]
    wilson <- suppressWarnings(prop.test(k, n, p = 0.5, conf.level = conf, correct = FALSE))$conf.int
    sign_test[[length(sign_test) + 1]] <- list(favouring = k, n = n, confidence = conf,
                                               p_value = binom.test(k, n, p = 0.5)$p.value,
                                               ci_low = wilson[1], ci_high = wilson[2])
  }
}
sets <- list(c(0.71), c(0.4, 1.1), c(0.55, 0.9, 0.71, 0.4, 1.1), c(-0.3, 0.12, 0.25, -0.05),
             c(1.2, 0.8, 0.95, 0.6, 0.7, 1.4, 0.9))
quantiles <- lapply(sets, function(x) {
  q <- quantile(x, c(0.25, 0.5, 0.75), type = 7, names = FALSE)
  list(values = I(x), q1 = q[1], median = median(x), q3 = q[3], min = min(x), max = max(x))
})
writeLines(toJSON(list(sign_test = sign_test, quantiles = quantiles), digits = NA,
                  auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/narrative.json")
