-- Judge health: a judgment records the judge's out-of-domain distance for its input
-- (NULL for judges that do not measure one), so a reader can tell guessing from knowing.
-- Confidence needs no column: it is the top of p_support / p_neutral / p_oppose.
ALTER TABLE judgments ADD COLUMN ood DOUBLE;
ALTER TABLE pair_judgments ADD COLUMN ood DOUBLE;
