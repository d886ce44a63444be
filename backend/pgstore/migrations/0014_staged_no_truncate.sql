-- The staging table is never truncated by a vacuum, and a pass finds its
-- streams through the primary key, not by reading the heap (issue 20's
-- closing note: the watched-table tail at the writers' maximum).
--
-- The mechanism of the tail (bench/results/2026-12-07-watch3.md): the
-- sequencer vacuums telltale.staged every 20,000 moved events, on its own
-- connection, between passes. After a vacuum, new staged rows fill the
-- table's first pages (the free space map), so by the next vacuum the last
-- pages hold only moved (dead) rows, and VACUUM tries to give them back to
-- the operating system: that needs an ACCESS EXCLUSIVE lock, which it asks
-- for without queueing, every 50 ms, for up to 5 s, while every writer of a
-- watched table holds ROW EXCLUSIVE on telltale.staged until its commit (8
-- writers at their maximum: nearly always one). Meanwhile the sequencer,
-- waiting in its VACUUM, made no pass: 2.07 s once in a 45 s run on the
-- 2-core machine, 2,393 events staged behind it, commit->hub p99 1.7 s; in
-- the interleaved 45 s runs the full 5 s, p99 4.8-5.1 s in every run (after
-- this migration 31-68 ms); 5 s with one writer's transaction open
-- (TestStagedVacuumWaitsForNoWriter).
-- Autovacuum does the same from its own process, and when it does get the
-- lock, the writers of every watched table queue behind it.
--
-- So vacuum_truncate is off for this table (autovacuum and a plain VACUUM
-- obey it; the sequencer's VACUUM also says TRUNCATE false). The pages a
-- backlog once needed stay allocated and are reused through the free space
-- map; VACUUM FULL telltale.staged in a quiet moment returns them.
--
-- Because the heap keeps that size, a pass no longer finds its streams with
-- SELECT DISTINCT over the heap (every page, live or not: 0.9-1.3 ms over
-- 858 pages left by 30,000 moved rows, at every pass, 100 a second): it
-- walks the primary key (tenant, stream, id) from one stream to the next,
-- one index descent per stream with staged rows ("ORDER BY tenant, stream
-- LIMIT 1", then the first key after the last stream's), whatever the
-- heap's size. Each lookup is its own statement with a plain plan; on a
-- table whose statistics say empty, a sequential scan costs as many pages
-- as the heap has, so the index is chosen once the heap is large enough for
-- that to matter (TestStagedPassReadsNoEmptyPages). Moves are unchanged:
-- each stream's move still takes its own snapshot, in name order, in one
-- transaction; a stream that gains staged rows during a pass and sorts after
-- the streams already moved is now moved in the same pass (before, the list
-- was fixed when the pass began).

ALTER TABLE telltale.staged SET (vacuum_truncate = false);

CREATE OR REPLACE FUNCTION telltale.sequence_staged(p_max int, p_tenant text DEFAULT NULL, p_stream text DEFAULT NULL, p_wait boolean DEFAULT false)
RETURNS TABLE (tenant text, stream text, epoch bigint, last_seq bigint, moved int, busy boolean, err text)
LANGUAGE plpgsql AS $$
DECLARE
    v_tenant  text;
    v_stream  text;
    v_timeout text := current_setting('lock_timeout');
BEGIN
    IF p_wait THEN
        -- A waiting caller (a read) waits at most 2 s for a stream's lock.
        PERFORM set_config('lock_timeout', '2s', true);
    END IF;
    IF p_tenant IS NOT NULL AND p_stream IS NOT NULL THEN
        -- A read's flush: its one stream, if anything is staged for it.
        SELECT g.tenant, g.stream INTO v_tenant, v_stream FROM telltale.staged g
         WHERE g.tenant = p_tenant AND g.stream = p_stream LIMIT 1;
    ELSE
        SELECT g.tenant, g.stream INTO v_tenant, v_stream FROM telltale.staged g
         WHERE (p_tenant IS NULL OR g.tenant = p_tenant) AND (p_stream IS NULL OR g.stream = p_stream)
         ORDER BY g.tenant, g.stream LIMIT 1;
    END IF;
    WHILE v_tenant IS NOT NULL LOOP
        tenant := v_tenant;
        stream := v_stream;
        err := NULL;
        BEGIN
            SELECT m.epoch, m.last_seq, m.moved, m.busy INTO epoch, last_seq, moved, busy
              FROM telltale.sequence_stream(v_tenant, v_stream, p_max, p_wait) m;
        EXCEPTION WHEN OTHERS THEN
            epoch := NULL; last_seq := NULL; moved := 0; busy := false;
            err := SQLERRM;
        END;
        RETURN NEXT;
        EXIT WHEN p_tenant IS NOT NULL AND p_stream IS NOT NULL;
        -- The next stream: the first key after this stream's (an index
        -- descent; the row comparison is the index's own order).
        SELECT g.tenant, g.stream INTO v_tenant, v_stream FROM telltale.staged g
         WHERE (g.tenant, g.stream) > (v_tenant, v_stream)
           AND (p_tenant IS NULL OR g.tenant = p_tenant) AND (p_stream IS NULL OR g.stream = p_stream)
         ORDER BY g.tenant, g.stream LIMIT 1;
    END LOOP;
    IF p_wait THEN
        PERFORM set_config('lock_timeout', v_timeout, true);
    END IF;
END
$$;
