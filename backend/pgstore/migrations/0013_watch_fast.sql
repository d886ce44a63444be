-- Watched tables' writes cost less (issue 20, after migration 0011).
--
-- With 0011 one watched stream took 0.48 of plain-insert pgbench throughput
-- (quiet machine, 8 clients; bench/results/2026-12-07-watch.md). Profiles of
-- that run put half of PostgreSQL's CPU in the watch trigger, and a third of
-- the trigger in telltale.row_key: a SQL function that PostgreSQL 15 cannot
-- inline (its body has a subquery), so it parsed and planned its body again
-- in every statement that fired the trigger. Now:
--
--  * watch_trigger computes the row's key itself (one column: a jsonb
--    field; several: a cached plan) and stages with its own INSERT instead
--    of a nested call to telltale.stage. Replacing the function in place
--    speeds up every table watched before this migration: their triggers
--    name this function, with the same arguments.
--  * A move's DELETE takes its rows by id range: the first p_max staged ids
--    of the stream are the rows up to the p_max-th one, found once (an
--    InitPlan). The 0011 form, "id IN (the first p_max ids)", was planned as
--    a nested-loop semi join re-running that subquery for every staged row
--    whenever the statistics said the staging table was small (after any
--    quiet spell): quadratic, 31 s for a backlog of 5,000 rows
--    (TestStagedBacklogMovesInLinearTime). The set moved is the same (ids are
--    unique; one statement, one snapshot).
--  * A move sets last_seq and the wake-up clock (notified_at) in one UPDATE
--    of the stream row, not two (telltale.wake's second UPDATE).

CREATE OR REPLACE FUNCTION telltale.sequence_stream(p_tenant text, p_stream text, p_max int, p_wait boolean,
    OUT epoch bigint, OUT last_seq bigint, OUT moved int, OUT busy boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_epoch    bigint;
    v_last     bigint;
    v_now      timestamptz;
    v_moved    int;
    v_notify   boolean;
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
            SELECT s.epoch, s.last_seq INTO v_epoch, v_last FROM telltale.streams s
             WHERE s.tenant = p_tenant AND s.stream = p_stream FOR UPDATE;
        ELSE
            SELECT s.epoch, s.last_seq INTO v_epoch, v_last FROM telltale.streams s
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
           AND g.id <= coalesce((SELECT x.id FROM telltale.staged x WHERE x.tenant = p_tenant AND x.stream = p_stream
                                  ORDER BY x.id OFFSET greatest(p_max, 1) - 1 LIMIT 1), 9223372036854775807)
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
        -- As telltale.wake (migration 0005) decided it, from the time the
        -- move is about to commit, in the same UPDATE as last_seq.
        v_now := clock_timestamp();
        UPDATE telltale.streams s SET
               last_seq = v_last,
               notified_at = CASE WHEN s.notified_at <= v_now - interval '10 milliseconds' THEN v_now ELSE s.notified_at END
         WHERE s.tenant = p_tenant AND s.stream = p_stream
        RETURNING s.notified_at = v_now INTO v_notify;
        IF v_notify THEN
            -- A wake-up, not the data: delivered at commit, in commit order.
            PERFORM pg_notify('telltale', p_tenant || '/' || p_stream || ':' || v_epoch || ':' || v_last);
        END IF;
    END IF;
    moved := v_moved;
    last_seq := v_last;
END
$$;

-- The same events as 0011's trigger, built without row_key and stage.
CREATE OR REPLACE FUNCTION telltale.watch_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_stream     text   := TG_ARGV[0];
    v_tenant_col text   := TG_ARGV[1];
    v_key_cols   text[] := TG_ARGV[2]::text[];
    v_now        timestamptz := clock_timestamp();
    v_new        jsonb;
    v_old        jsonb;
    v_new_key    text;
    v_old_key    text;
    v_tenant     text;
    v_old_tenant text;
BEGIN
    IF TG_OP <> 'DELETE' THEN
        v_new := to_jsonb(NEW);
        -- As telltale.row_key: one column's text, or a JSON array of several.
        IF cardinality(v_key_cols) = 1 THEN
            v_new_key := coalesce(v_new ->> v_key_cols[1], '');
        ELSE
            v_new_key := (SELECT jsonb_agg(v_new -> c ORDER BY o) FROM unnest(v_key_cols) WITH ORDINALITY AS u(c, o))::text;
        END IF;
        v_tenant := v_new ->> v_tenant_col;
        IF v_tenant IS NULL OR v_tenant !~ '^[a-z0-9][a-z0-9._-]{0,63}$' THEN
            RAISE EXCEPTION 'telltale: % row % has tenant % in column %: want 1–64 of a-z, 0-9, ".", "_", "-"',
                TG_TABLE_NAME, v_new_key, coalesce(quote_literal(v_tenant), 'NULL'), v_tenant_col;
        END IF;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        v_old := to_jsonb(OLD);
        IF cardinality(v_key_cols) = 1 THEN
            v_old_key := coalesce(v_old ->> v_key_cols[1], '');
        ELSE
            v_old_key := (SELECT jsonb_agg(v_old -> c ORDER BY o) FROM unnest(v_key_cols) WITH ORDINALITY AS u(c, o))::text;
        END IF;
        v_old_tenant := v_old ->> v_tenant_col;
        -- A row that changed tenant or key leaves its old place first.
        IF (TG_OP = 'DELETE' OR v_old_tenant IS DISTINCT FROM v_tenant OR v_old_key <> v_new_key)
           AND v_old_tenant ~ '^[a-z0-9][a-z0-9._-]{0,63}$' THEN
            -- The stream row, as telltale.stage creates it (0011).
            PERFORM 1 FROM telltale.streams WHERE tenant = v_old_tenant AND stream = v_stream;
            IF NOT FOUND THEN
                INSERT INTO telltale.streams (tenant, stream) VALUES (v_old_tenant, v_stream) ON CONFLICT DO NOTHING;
            END IF;
            INSERT INTO telltale.staged (tenant, stream, ts, body, created) VALUES (v_old_tenant, v_stream, v_now,
                jsonb_build_object('row', jsonb_build_object('key', v_old_key, 'op', 'delete', 'fields', v_old)), v_now);
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM 1 FROM telltale.streams WHERE tenant = v_tenant AND stream = v_stream;
        IF NOT FOUND THEN
            INSERT INTO telltale.streams (tenant, stream) VALUES (v_tenant, v_stream) ON CONFLICT DO NOTHING;
        END IF;
        INSERT INTO telltale.staged (tenant, stream, ts, body, created) VALUES (v_tenant, v_stream, v_now,
            jsonb_build_object('row', jsonb_build_object('key', v_new_key, 'op', lower(TG_OP), 'fields', v_new)), v_now);
    END IF;
    RETURN NULL;
END
$$;
