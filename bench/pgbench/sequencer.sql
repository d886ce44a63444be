-- One sequencer pass, as pgstore's sequencer runs it (run.sh paces it at
-- 100 passes/s, the most writers' wake-ups ask for).
SELECT count(*) FROM telltale.sequence_staged(5000);
