-- Watched tables no longer serialise their writers (issue 20).
--
-- Until now a watched table's trigger called telltale.publish, which takes
-- the stream's counter row lock (UPDATE telltale.streams ... last_seq) and
-- holds it until the user's transaction ends: every writer of a busy watched
-- table waited for the previous writer's commit, a ceiling of about 2,000
-- events/s on one stream on the 2-core machine where plain one-row inserts
-- run at about 9,000 tps, seen by a DBA as lock waits on their own table
-- (bench/results/2026-12-07-watch.md).
--
-- Now the trigger appends its event to telltale.staged, a table no two
-- writers share a row of, and the server's sequencer (pgstore, sequence.go)
-- moves staged rows into telltale.events, assigning seqs, in transactions of
-- its own that last a few milliseconds whatever the user's transaction does.
--
-- The contracts, and why they hold:
--
--  * Contiguous seqs, visible in seq order: a move takes the stream's row
--    lock, deletes the staged rows and inserts them as events numbered
--    last_seq+1, +2, … (row_number over exactly the rows the DELETE returned)
--    and sets last_seq, all in one transaction: like publish_batch, so a
--    reader never sees seq n+1 before n.
--  * Nothing lost or doubled across crashes: the DELETE and the INSERT are
--    one transaction. A mover killed mid-move (its connection terminated,
--    its node crashed) rolls back; the rows stay staged for the next move.
--  * Order: a move sequences the staged rows its statement's snapshot sees
--    committed, in staging order (id, from a sequence, which grows in real
--    time across sessions). A transaction still in flight is invisible and
--    is sequenced by a later move, after everything that committed before
--    it. This is commit order in the sense that matters to a reader: if a
--    change B could depend on a change A (B's transaction saw A committed,
--    or waited for A's row lock, as two updates of one row do), then A's
--    commit was visible before B's row was staged, so A is in the same move
--    with a smaller id or in an earlier move; and a snapshot that sees B
--    committed sees A committed. Concurrent changes that could not see each
--    other may come in either order, as they could with any lock.
--    This rule does not wait for the oldest running transaction
--    (pg_snapshot_xmin): with that rule, any long transaction anywhere in
--    the cluster, even one that never touches a watched table, would hold
--    back every watched stream for its whole duration; and ordering by
--    transaction id is not commit order (a transaction that took its id
--    early and then waited for another's row lock commits after it), so it
--    could put an update of a row before the update it waited for. Tests:
--    pgstore's TestStagedLongTransaction, TestStagedSameRowOrder.
--  * Several nodes: a move holds pg_try_advisory_xact_lock on its stream, so
--    one node moves a stream at a time and the others skip it rather than
--    queue; the stream row lock would keep two moves apart anyway.
--
-- The stream row is created (and the stream quota applied) in the writer's
-- transaction, as before, so a refused stream still fails the user's write
-- rather than leaving rows nobody may sequence. Bodies are checked there too.
--
-- Wake-ups: a deferred trigger on telltale.staged notifies channel
-- telltale_staged at the writer's commit, at most every 10 ms across all
-- streams (a sequence, which is not transactional, holds the time of the
-- last one), because every notifying commit takes a database-wide lock
-- (migration 0004). The sequencer moves every staged stream per wake-up and
-- looks again shortly after each move, for commits inside the 10 ms window,
-- and every scan interval as the safety net.
--
-- telltale.publish and publish_batch keep their path: they return the seq
-- (and epoch) they gave, which a staged event does not have until it is
-- moved. telltale.stage is the same path as watched tables for SQL producers
-- that do not need the seq.

CREATE TABLE telltale.staged (
    tenant  text        NOT NULL,
    stream  text        NOT NULL,
    id      bigint      GENERATED ALWAYS AS IDENTITY (CACHE 1),
    ts      timestamptz NOT NULL,
    body    jsonb       NOT NULL CHECK (jsonb_typeof(body) = 'object'),
    created timestamptz NOT NULL,
    PRIMARY KEY (tenant, stream, id)
);
-- A queue: rows live milliseconds. Vacuum it often so moves and scans do not
-- wade through dead rows after a burst.
ALTER TABLE telltale.staged SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
                                 autovacuum_vacuum_cost_delay = 0, autovacuum_vacuum_insert_threshold = 5000);

-- The time (ms since 1970) of the last wake-up sent to the sequencers.
CREATE SEQUENCE telltale.staged_woken;

CREATE FUNCTION telltale.stage(p_tenant text, p_stream text, p_body jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
BEGIN
    -- Once per stream's life: the stream row, with its name checks and the
    -- tenant's stream quota, in the writer's transaction. A plain read, no
    -- lock: nothing here is shared between writers of an existing stream.
    -- (Writers of a stream not yet committed wait for its first writer's
    -- commit, on the row's primary key: once in the stream's life.)
    PERFORM 1 FROM telltale.streams WHERE tenant = p_tenant AND stream = p_stream;
    IF NOT FOUND THEN
        INSERT INTO telltale.streams (tenant, stream) VALUES (p_tenant, p_stream) ON CONFLICT DO NOTHING;
    END IF;
    INSERT INTO telltale.staged (tenant, stream, ts, body, created) VALUES (p_tenant, p_stream, v_now, p_body, v_now);
END
$$;

-- At the writer's commit (a deferred trigger): wake the sequencers unless a
-- wake-up went out in the last 10 ms, or another committing writer is
-- sending one (the advisory lock, held to its commit: writers that read the
-- clock at the same moment would otherwise all notify, and queue on the
-- notify lock).
CREATE FUNCTION telltale.staged_wake() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_now bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
BEGIN
    IF (SELECT last_value FROM telltale.staged_woken) <= v_now - 10
       AND pg_try_advisory_xact_lock(hashtext('telltale.staged_wake')) THEN
        PERFORM setval('telltale.staged_woken', v_now);
        PERFORM pg_notify('telltale_staged', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER staged_wake AFTER INSERT ON telltale.staged
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION telltale.staged_wake();

-- Moves up to p_max staged events of one stream into telltale.events (see
-- the top of this file). p_wait: wait for another mover or a publisher
-- holding the stream (a read that must see every committed event) rather
-- than skip it (busy). Returns the stream's epoch and last seq and how many
-- events it moved.
CREATE FUNCTION telltale.sequence_stream(p_tenant text, p_stream text, p_max int, p_wait boolean,
    OUT epoch bigint, OUT last_seq bigint, OUT moved int, OUT busy boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_epoch    bigint;
    v_last     bigint;
    v_notified timestamptz;
    v_now      timestamptz;
    v_moved    int;
BEGIN
    moved := 0;
    busy := false;
    IF p_wait THEN
        PERFORM pg_advisory_xact_lock(hashtext('telltale.sequence'), hashtext(p_tenant || '/' || p_stream));
    ELSIF NOT pg_try_advisory_xact_lock(hashtext('telltale.sequence'), hashtext(p_tenant || '/' || p_stream)) THEN
        busy := true; -- another node is moving it
        RETURN;
    END IF;
    LOOP
        IF p_wait THEN
            SELECT s.epoch, s.last_seq, s.notified_at INTO v_epoch, v_last, v_notified FROM telltale.streams s
             WHERE s.tenant = p_tenant AND s.stream = p_stream FOR UPDATE;
        ELSE
            SELECT s.epoch, s.last_seq, s.notified_at INTO v_epoch, v_last, v_notified FROM telltale.streams s
             WHERE s.tenant = p_tenant AND s.stream = p_stream FOR UPDATE SKIP LOCKED;
        END IF;
        EXIT WHEN FOUND;
        IF EXISTS (SELECT FROM telltale.streams s WHERE s.tenant = p_tenant AND s.stream = p_stream) THEN
            busy := true; -- a publisher holds it until its commit: try again shortly
            RETURN;
        END IF;
        -- The stream was deleted after its rows were staged: it starts again.
        INSERT INTO telltale.streams (tenant, stream) VALUES (p_tenant, p_stream) ON CONFLICT DO NOTHING;
    END LOOP;
    epoch := v_epoch;
    last_seq := v_last;
    -- The stamp is when the events are written, as in publish_batch.
    v_now := clock_timestamp();
    WITH d AS (
        DELETE FROM telltale.staged g
         WHERE g.tenant = p_tenant AND g.stream = p_stream
           AND g.id IN (SELECT x.id FROM telltale.staged x WHERE x.tenant = p_tenant AND x.stream = p_stream
                         ORDER BY x.id LIMIT p_max)
        RETURNING g.id, g.ts, g.body, g.created
    ), i AS (
        INSERT INTO telltale.events (tenant, stream, seq, ts, body, created, stored)
        SELECT p_tenant, p_stream, v_last + row_number() OVER (ORDER BY d.id), d.ts, d.body, d.created, v_now
          FROM d
        RETURNING 1
    )
    SELECT count(*) INTO v_moved FROM i;
    IF v_moved > 0 THEN
        v_last := v_last + v_moved;
        UPDATE telltale.streams s SET last_seq = v_last WHERE s.tenant = p_tenant AND s.stream = p_stream;
        PERFORM telltale.wake(p_tenant, p_stream, v_epoch, v_last, v_notified);
    END IF;
    moved := v_moved;
    last_seq := v_last;
END
$$;

-- One pass of a sequencer: every stream with staged events (or only
-- p_tenant/p_stream's), at most p_max events each, in one transaction. A
-- stream whose move fails is reported (err) and left staged; the others
-- move. p_wait (a read's flush) waits for each stream at most 2 s.
CREATE FUNCTION telltale.sequence_staged(p_max int, p_tenant text DEFAULT NULL, p_stream text DEFAULT NULL, p_wait boolean DEFAULT false)
RETURNS TABLE (tenant text, stream text, epoch bigint, last_seq bigint, moved int, busy boolean, err text)
LANGUAGE plpgsql AS $$
DECLARE
    r         record;
    v_timeout text := current_setting('lock_timeout');
BEGIN
    IF p_wait THEN
        -- A waiting caller (a read) waits at most 2 s for a stream's lock.
        PERFORM set_config('lock_timeout', '2s', true);
    END IF;
    FOR r IN SELECT DISTINCT g.tenant, g.stream FROM telltale.staged g
              WHERE (p_tenant IS NULL OR g.tenant = p_tenant) AND (p_stream IS NULL OR g.stream = p_stream)
              ORDER BY 1, 2 LOOP
        tenant := r.tenant;
        stream := r.stream;
        err := NULL;
        BEGIN
            SELECT m.epoch, m.last_seq, m.moved, m.busy INTO epoch, last_seq, moved, busy
              FROM telltale.sequence_stream(r.tenant, r.stream, p_max, p_wait) m;
        EXCEPTION WHEN OTHERS THEN
            epoch := NULL; last_seq := NULL; moved := 0; busy := false;
            err := SQLERRM;
        END;
        RETURN NEXT;
    END LOOP;
    IF p_wait THEN
        PERFORM set_config('lock_timeout', v_timeout, true);
    END IF;
END
$$;

-- Watched tables stage their events.
CREATE OR REPLACE FUNCTION telltale.watch_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_stream     text   := TG_ARGV[0];
    v_tenant_col text   := TG_ARGV[1];
    v_key_cols   text[] := TG_ARGV[2]::text[];
    v_new        jsonb;
    v_old        jsonb;
    v_new_key    text;
    v_old_key    text;
    v_tenant     text;
BEGIN
    IF TG_OP <> 'DELETE' THEN
        v_new := to_jsonb(NEW);
        v_new_key := telltale.row_key(v_new, v_key_cols);
        v_tenant := v_new ->> v_tenant_col;
        IF v_tenant IS NULL OR v_tenant !~ '^[a-z0-9][a-z0-9._-]{0,63}$' THEN
            RAISE EXCEPTION 'telltale: % row % has tenant % in column %: want 1–64 of a-z, 0-9, ".", "_", "-"',
                TG_TABLE_NAME, v_new_key, coalesce(quote_literal(v_tenant), 'NULL'), v_tenant_col;
        END IF;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        v_old := to_jsonb(OLD);
        v_old_key := telltale.row_key(v_old, v_key_cols);
    END IF;
    -- A row that changed tenant or key leaves its old place first.
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (
            (v_old ->> v_tenant_col) IS DISTINCT FROM (v_new ->> v_tenant_col) OR v_old_key <> v_new_key)) THEN
        IF (v_old ->> v_tenant_col) ~ '^[a-z0-9][a-z0-9._-]{0,63}$' THEN
            PERFORM telltale.stage(v_old ->> v_tenant_col, v_stream,
                jsonb_build_object('row', jsonb_build_object('key', v_old_key, 'op', 'delete', 'fields', v_old)));
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM telltale.stage(v_tenant, v_stream,
            jsonb_build_object('row', jsonb_build_object('key', v_new_key, 'op', lower(TG_OP), 'fields', v_new)));
    END IF;
    RETURN NULL;
END
$$;
