-- A tenant may hold at most telltale.limits.max_streams_per_tenant streams:
-- one producer (or a watched table) inventing stream names must not exhaust
-- the server's memory for every tenant. The server writes its configured
-- limit at start; the trigger applies it to every path that creates a
-- stream (publish, publish_batch, HTTP ingest, watched tables).
CREATE TABLE telltale.limits (
    one                    boolean PRIMARY KEY DEFAULT true CHECK (one),
    max_streams_per_tenant integer NOT NULL DEFAULT 1000 CHECK (max_streams_per_tenant > 0)
);
INSERT INTO telltale.limits DEFAULT VALUES;

CREATE FUNCTION telltale.check_stream_quota() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    max_streams integer;
    held        bigint;
BEGIN
    SELECT max_streams_per_tenant INTO max_streams FROM telltale.limits;
    SELECT count(*) INTO held FROM telltale.streams WHERE tenant = NEW.tenant;
    IF held >= max_streams THEN
        RAISE EXCEPTION 'telltale: tenant % already has % streams (the limit)', NEW.tenant, held
            USING ERRCODE = 'TTQ01';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER streams_quota BEFORE INSERT ON telltale.streams
    FOR EACH ROW EXECUTE FUNCTION telltale.check_stream_quota();
