-- Three shapes of one user table, side by side in one database (run.sh
-- applies backend/pgstore/migrations first):
--   plain_orders   no trigger: the ceiling, plain one-row inserts;
--   lock_orders    the watch trigger as it was before migration 0011: it calls
--                  telltale.publish, which takes the stream's counter row lock
--                  until the writer commits (copied from migration 0005);
--   staged_orders  telltale.watch as it is now: the trigger stages the event,
--                  the sequencer (sequencer.sql here, pgstore in the server)
--                  moves it into events.
-- Every row has tenant 'acme': one watched stream per table.
CREATE TABLE plain_orders  (id bigserial PRIMARY KEY, tenant text NOT NULL, status text NOT NULL, total numeric NOT NULL);
CREATE TABLE lock_orders   (id bigserial PRIMARY KEY, tenant text NOT NULL, status text NOT NULL, total numeric NOT NULL);
CREATE TABLE staged_orders (id bigserial PRIMARY KEY, tenant text NOT NULL, status text NOT NULL, total numeric NOT NULL);

CREATE FUNCTION bench_watch_lock() RETURNS trigger
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
CREATE TRIGGER telltale_watch AFTER INSERT OR UPDATE OR DELETE ON lock_orders
    FOR EACH ROW EXECUTE FUNCTION bench_watch_lock('lock', 'tenant', '{id}');

SELECT telltale.watch('staged_orders', 'staged', 'tenant');
