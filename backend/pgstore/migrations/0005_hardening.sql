-- Hardening found by review:
--  * wake-ups are decided after the insert, from the time the publisher is
--    about to commit, not before it waited for the stream's row lock: a
--    publisher queued behind a notifier now notifies itself when it ends
--    more than 10 ms after that notifier;
--  * the payload carries the epoch (tenant/stream:epoch:seq), so a recreated
--    stream is never read as the continuation of the old one;
--  * one-dimensional arrays only, with times and created stamps matching the
--    bodies (a 2-D array once wrote seqs past last_seq and broke the stream);
--  * event bodies must be JSON objects and times finite;
--  * rows remember when they were stored: retention ages by that, not by the
--    producer's event time, so a batch of old events is not deleted before
--    anyone reads it.

ALTER TABLE telltale.events ADD COLUMN stored timestamptz NOT NULL DEFAULT clock_timestamp();
ALTER TABLE telltale.events ADD CONSTRAINT events_body_object CHECK (jsonb_typeof(body) = 'object');
ALTER TABLE telltale.events ADD CONSTRAINT events_ts_finite CHECK (isfinite(ts));

-- Called after a publish inserted its rows, under the stream row lock.
CREATE FUNCTION telltale.wake(p_tenant text, p_stream text, p_epoch bigint, p_seq bigint, p_notified timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
BEGIN
    IF p_notified <= v_now - interval '10 milliseconds' THEN
        UPDATE telltale.streams SET notified_at = v_now WHERE tenant = p_tenant AND stream = p_stream;
        -- A wake-up, not the data: delivered at commit, in commit order.
        PERFORM pg_notify('telltale', p_tenant || '/' || p_stream || ':' || p_epoch || ':' || p_seq);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION telltale.publish_batch(
    p_tenant  text,
    p_stream  text,
    p_bodies  jsonb[],
    p_times   timestamptz[] DEFAULT NULL,
    p_created timestamptz[] DEFAULT NULL,
    p_kind    text DEFAULT 'event'
) RETURNS TABLE (epoch bigint, first_seq bigint, last_seq bigint)
LANGUAGE plpgsql AS $$
DECLARE
    n          int := coalesce(cardinality(p_bodies), 0);
    v_last     bigint;
    v_epoch    bigint;
    v_notified timestamptz;
BEGIN
    IF n = 0 THEN
        RAISE EXCEPTION 'telltale.publish_batch: no events to publish' USING ERRCODE = '22023';
    END IF;
    IF array_ndims(p_bodies) <> 1
       OR (p_times IS NOT NULL AND (array_ndims(p_times) <> 1 OR cardinality(p_times) <> n))
       OR (p_created IS NOT NULL AND (array_ndims(p_created) <> 1 OR cardinality(p_created) <> n)) THEN
        RAISE EXCEPTION 'telltale.publish_batch: bodies, times and created must be one-dimensional arrays of the same length' USING ERRCODE = '22023';
    END IF;
    UPDATE telltale.streams s SET last_seq = s.last_seq + n
     WHERE s.tenant = p_tenant AND s.stream = p_stream
    RETURNING s.last_seq, s.epoch, s.notified_at INTO v_last, v_epoch, v_notified;
    IF NOT FOUND THEN
        INSERT INTO telltale.streams (tenant, stream) VALUES (p_tenant, p_stream)
        ON CONFLICT DO NOTHING;
        UPDATE telltale.streams s SET last_seq = s.last_seq + n
         WHERE s.tenant = p_tenant AND s.stream = p_stream
        RETURNING s.last_seq, s.epoch, s.notified_at INTO v_last, v_epoch, v_notified;
    END IF;
    -- Subscripts from the arrays' own lower bounds, whatever they are.
    INSERT INTO telltale.events (tenant, stream, seq, ts, kind, body, created)
    SELECT p_tenant, p_stream, v_last - n + u.i, coalesce(p_times[array_lower(p_times, 1) + u.i - 1], clock_timestamp()),
           p_kind, u.b, p_created[array_lower(p_created, 1) + u.i - 1]
      FROM unnest(p_bodies) WITH ORDINALITY AS u(b, i);
    PERFORM telltale.wake(p_tenant, p_stream, v_epoch, v_last, v_notified);
    epoch := v_epoch;
    first_seq := v_last - n + 1;
    last_seq := v_last;
    RETURN NEXT;
END
$$;

CREATE OR REPLACE FUNCTION telltale.publish(p_tenant text, p_stream text, p_body jsonb)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_seq      bigint;
    v_epoch    bigint;
    v_notified timestamptz;
BEGIN
    UPDATE telltale.streams s SET last_seq = s.last_seq + 1
     WHERE s.tenant = p_tenant AND s.stream = p_stream
    RETURNING s.last_seq, s.epoch, s.notified_at INTO v_seq, v_epoch, v_notified;
    IF NOT FOUND THEN
        RETURN (SELECT first_seq FROM telltale.publish_batch(p_tenant, p_stream, ARRAY[p_body]));
    END IF;
    INSERT INTO telltale.events (tenant, stream, seq, ts, body) VALUES (p_tenant, p_stream, v_seq, clock_timestamp(), p_body);
    PERFORM telltale.wake(p_tenant, p_stream, v_epoch, v_seq, v_notified);
    RETURN v_seq;
END
$$;

-- Composite keys as a JSON array (["x:y","z"]), so that no two keys collide;
-- one-column keys stay plain text. Tenants that are not valid names are
-- refused with a message naming the column and value.
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
            PERFORM telltale.publish(v_old ->> v_tenant_col, v_stream,
                jsonb_build_object('row', jsonb_build_object('key', v_old_key, 'op', 'delete', 'fields', v_old)));
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM telltale.publish(v_tenant, v_stream,
            jsonb_build_object('row', jsonb_build_object('key', v_new_key, 'op', lower(TG_OP), 'fields', v_new)));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION telltale.row_key(p_row jsonb, p_cols text[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN cardinality(p_cols) = 1 THEN coalesce(p_row ->> p_cols[1], '')
                ELSE (SELECT jsonb_agg(p_row -> c ORDER BY o) FROM unnest(p_cols) WITH ORDINALITY AS u(c, o))::text END
$$;
