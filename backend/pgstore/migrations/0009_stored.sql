-- The Stored stamp (issue 18): when the row was written, on the database's
-- clock, so an event's time in the database (created → stored) and between
-- the database and the hub (stored → ingested) can be told apart.
--
-- The column exists since migration 5 (telltale.events.stored, NOT NULL
-- DEFAULT clock_timestamp(), for retention): this migration adds no column
-- and does not touch the table, so it costs nothing on a big one (a test
-- checks the table's file, pg_class.relfilenode, is the same after it). The
-- insert functions now set the stamp themselves, one value per statement
-- taken after the stream's row lock, and publish_batch returns it.
--
-- Producers that give no created stamp (telltale.publish from SQL, watched
-- tables' triggers, publish_batch without p_created) get the time their row
-- was written: the nearest to their commit the database can tell inside the
-- transaction (the true commit time needs track_commit_timestamp).

-- publish_batch also returns its stored stamp, so that the Go publisher's
-- own copies of the events (the recent cache) carry the same stamp as a read
-- of the rows. A function's result columns cannot be changed in place.
DROP FUNCTION telltale.publish_batch(text, text, jsonb[], timestamptz[], timestamptz[], text);

CREATE FUNCTION telltale.publish_batch(
    p_tenant  text,
    p_stream  text,
    p_bodies  jsonb[],
    p_times   timestamptz[] DEFAULT NULL,
    p_created timestamptz[] DEFAULT NULL,
    p_kind    text DEFAULT 'event'
) RETURNS TABLE (epoch bigint, first_seq bigint, last_seq bigint, stored timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    n          int := coalesce(cardinality(p_bodies), 0);
    v_last     bigint;
    v_epoch    bigint;
    v_notified timestamptz;
    v_stored   timestamptz;
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
    -- After the stream's row lock: the stamp is when the rows are written,
    -- not when the batch waited for its turn.
    v_stored := clock_timestamp();
    -- Subscripts from the arrays' own lower bounds, whatever they are.
    INSERT INTO telltale.events (tenant, stream, seq, ts, kind, body, created, stored)
    SELECT p_tenant, p_stream, v_last - n + u.i, coalesce(p_times[array_lower(p_times, 1) + u.i - 1], v_stored),
           p_kind, u.b, coalesce(p_created[array_lower(p_created, 1) + u.i - 1], v_stored), v_stored
      FROM unnest(p_bodies) WITH ORDINALITY AS u(b, i);
    PERFORM telltale.wake(p_tenant, p_stream, v_epoch, v_last, v_notified);
    epoch := v_epoch;
    first_seq := v_last - n + 1;
    last_seq := v_last;
    stored := v_stored;
    RETURN NEXT;
END
$$;

CREATE OR REPLACE FUNCTION telltale.publish(p_tenant text, p_stream text, p_body jsonb)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_seq      bigint;
    v_epoch    bigint;
    v_notified timestamptz;
    v_now      timestamptz;
BEGIN
    UPDATE telltale.streams s SET last_seq = s.last_seq + 1
     WHERE s.tenant = p_tenant AND s.stream = p_stream
    RETURNING s.last_seq, s.epoch, s.notified_at INTO v_seq, v_epoch, v_notified;
    IF NOT FOUND THEN
        RETURN (SELECT first_seq FROM telltale.publish_batch(p_tenant, p_stream, ARRAY[p_body]));
    END IF;
    v_now := clock_timestamp();
    INSERT INTO telltale.events (tenant, stream, seq, ts, body, created, stored) VALUES (p_tenant, p_stream, v_seq, v_now, p_body, v_now, v_now);
    PERFORM telltale.wake(p_tenant, p_stream, v_epoch, v_seq, v_notified);
    RETURN v_seq;
END
$$;
