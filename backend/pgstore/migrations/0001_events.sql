-- Streams, events and the publishing functions.
--
-- Ordering rule: publish_batch takes the stream's row lock (UPDATE ... last_seq)
-- and holds it until the producer's transaction ends. The next publisher to the
-- same stream waits for that commit or rollback, then reads the committed
-- last_seq (READ COMMITTED re-reads the updated row). So seqs are contiguous
-- (a rollback returns its numbers) and become visible in seq order: a reader
-- that has seen seq n never later finds a committed n-1. Producers must call it
-- under READ COMMITTED (the default); under REPEATABLE READ a concurrent
-- publisher gets a serialization error instead of waiting.

CREATE TABLE telltale.streams (
    tenant      text   NOT NULL CHECK (tenant ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    stream      text   NOT NULL CHECK (stream ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    -- A new epoch (microseconds at creation) tells clients their cursors are void.
    epoch       bigint NOT NULL DEFAULT (floor(extract(epoch FROM clock_timestamp()) * 1000000))::bigint,
    last_seq    bigint NOT NULL DEFAULT 0,
    -- Retention overrides; NULL means the server's configured default.
    keep_events bigint   CHECK (keep_events >= 0),
    keep_for    interval,
    PRIMARY KEY (tenant, stream)
);

CREATE TABLE telltale.events (
    tenant  text        NOT NULL,
    stream  text        NOT NULL,
    seq     bigint      NOT NULL,
    ts      timestamptz NOT NULL,            -- event time
    kind    text        NOT NULL DEFAULT 'event',
    body    jsonb       NOT NULL,            -- {"values":…, "row":…, "points":…}
    created timestamptz,                     -- the producer's stamp, if it gave one
    PRIMARY KEY (tenant, stream, seq)
);

CREATE FUNCTION telltale.publish_batch(
    p_tenant  text,
    p_stream  text,
    p_bodies  jsonb[],
    p_times   timestamptz[] DEFAULT NULL,
    p_created timestamptz[] DEFAULT NULL,
    p_kind    text DEFAULT 'event'
) RETURNS TABLE (epoch bigint, first_seq bigint, last_seq bigint)
LANGUAGE plpgsql AS $$
DECLARE
    n       int := coalesce(array_length(p_bodies, 1), 0);
    v_last  bigint;
    v_epoch bigint;
BEGIN
    IF n = 0 THEN
        RAISE EXCEPTION 'telltale.publish_batch: no events to publish' USING ERRCODE = '22023';
    END IF;
    UPDATE telltale.streams s SET last_seq = s.last_seq + n
     WHERE s.tenant = p_tenant AND s.stream = p_stream
    RETURNING s.last_seq, s.epoch INTO v_last, v_epoch;
    IF NOT FOUND THEN
        INSERT INTO telltale.streams (tenant, stream) VALUES (p_tenant, p_stream)
        ON CONFLICT DO NOTHING;
        UPDATE telltale.streams s SET last_seq = s.last_seq + n
         WHERE s.tenant = p_tenant AND s.stream = p_stream
        RETURNING s.last_seq, s.epoch INTO v_last, v_epoch;
    END IF;
    INSERT INTO telltale.events (tenant, stream, seq, ts, kind, body, created)
    SELECT p_tenant, p_stream, v_last - n + u.i, coalesce(p_times[u.i], clock_timestamp()), p_kind, u.b, p_created[u.i]
      FROM unnest(p_bodies) WITH ORDINALITY AS u(b, i);
    -- A wake-up, not the data: delivered at commit, in commit order.
    PERFORM pg_notify('telltale', p_tenant || '/' || p_stream || ':' || v_last);
    epoch := v_epoch;
    first_seq := v_last - n + 1;
    last_seq := v_last;
    RETURN NEXT;
END
$$;

CREATE FUNCTION telltale.publish(p_tenant text, p_stream text, p_body jsonb)
RETURNS bigint LANGUAGE sql AS $$
    SELECT first_seq FROM telltale.publish_batch(p_tenant, p_stream, ARRAY[p_body])
$$;
