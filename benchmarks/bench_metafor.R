# Times metafor's rma() on data written by bench_synthesis.py (run by it; not on its own).
#
# Usage: Rscript bench_metafor.R DIR BUDGET MIN_REPS MAX_REPS LOOP_N LOOP_ALL_LIMIT
# DIR holds cases.csv (name, file), one CSV (yi, vi) per single-fit case and batch.csv (id, yi, vi).
# Only rma() is timed: R start-up, reading the CSVs and splitting the batch are outside the clock.
# Writes DIR/r_times.csv, DIR/r_est_<name>.csv, DIR/r_loop_est.csv and DIR/r_info.csv.

args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
budget <- as.numeric(args[2])
min_reps <- as.integer(args[3])
max_reps <- as.integer(args[4])
loop_n <- as.integer(args[5])
loop_all_limit <- as.numeric(args[6])

suppressMessages(library(metafor))

cpu_of <- function(st) st[["user.self"]] + st[["sys.self"]]

elapsed <- function(expr_fn) {
  st <- system.time(value <- expr_fn())
  list(t = st[["elapsed"]], cpu = cpu_of(st), value = value)
}

fit <- function(yi, vi) rma(yi, vi, method = "REML")

cases <- read.csv(file.path(dir, "cases.csv"), stringsAsFactors = FALSE)
rows <- list()

# warm-up: loads metafor's code paths once, on the smallest case
d0 <- read.csv(file.path(dir, cases$file[1]))
invisible(fit(d0$yi, d0$vi))

for (i in seq_len(nrow(cases))) {
  d <- read.csv(file.path(dir, cases$file[i]))
  first <- elapsed(function() fit(d$yi, d$vi))
  res <- first$value
  times <- first$t
  cpus <- first$cpu
  if (first$t < budget) {
    # system.time() ticks in milliseconds: fast fits are timed in runs of `inner` calls
    inner <- max(1, ceiling(0.05 / max(first$t, 1e-3)))
    reps <- min(max_reps, max(min_reps, ceiling(budget / max(first$t * inner, 1e-3))))
    times <- cpus <- numeric(0)
    for (r in seq_len(reps)) {
      e <- elapsed(function() for (j in seq_len(inner)) fit(d$yi, d$vi))
      times <- c(times, e$t / inner)
      cpus <- c(cpus, e$cpu / inner)
    }
  }
  write.csv(data.frame(tau2 = res$tau2, beta = as.numeric(res$beta)[1]),
            file.path(dir, paste0("r_est_", cases$name[i], ".csv")), row.names = FALSE)
  rows[[length(rows) + 1]] <- data.frame(name = cases$name[i], median = median(times),
                                         min = min(times), cpu = median(cpus),
                                         reps = length(times), fits = 1,
                                         failed = 0)
}

# loop of rma() over the batch: the first LOOP_N meta-analyses, then all if that would take
# less than LOOP_ALL_LIMIT seconds in total
if (file.exists(file.path(dir, "batch.csv"))) {
  b <- read.csv(file.path(dir, "batch.csv"))
  ys <- split(b$yi, b$id)
  vs <- split(b$vi, b$id)
  n_total <- length(ys)
  tau2 <- beta <- rep(NA_real_, n_total)
  failed <- 0
  run <- function(idx) {
    for (j in idx) {
      r <- tryCatch(fit(ys[[j]], vs[[j]]), error = function(e) NULL)
      if (is.null(r)) {
        failed <<- failed + 1
      } else {
        tau2[j] <<- r$tau2
        beta[j] <<- as.numeric(r$beta)[1]
      }
    }
  }
  m <- min(loop_n, n_total)
  st <- system.time(run(seq_len(m)))
  total <- st[["elapsed"]]
  cpu <- cpu_of(st)
  done <- m
  if (m < n_total && total * n_total / m < loop_all_limit) {
    st <- system.time(run((m + 1):n_total))
    total <- total + st[["elapsed"]]
    cpu <- cpu + cpu_of(st)
    done <- n_total
  }
  write.csv(data.frame(tau2 = tau2[seq_len(done)], beta = beta[seq_len(done)]),
            file.path(dir, "r_loop_est.csv"), row.names = FALSE)
  rows[[length(rows) + 1]] <- data.frame(name = "loop", median = total, min = total, cpu = cpu,
                                         reps = 1,
                                         fits = done, failed = failed)
}

write.csv(do.call(rbind, rows), file.path(dir, "r_times.csv"), row.names = FALSE)
write.csv(data.frame(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                     blas = sessionInfo()$BLAS, lapack = sessionInfo()$LAPACK),
          file.path(dir, "r_info.csv"), row.names = FALSE)
