-- Watched tables: telltale.watch installs a trigger on a user's own table so
-- that its row changes become row events of a stream, with the tenant taken
-- from a column. The trigger publishes inside the user's transaction, so an
-- event exists exactly when its change commits. It takes the stream's row
-- lock like any publish: writers to one watched table and tenant serialise at
-- commit.

CREATE FUNCTION telltale.watch_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_stream     text   := TG_ARGV[0];
    v_tenant_col text   := TG_ARGV[1];
    v_key_cols   text[] := TG_ARGV[2]::text[];
    v_new        jsonb;
    v_old        jsonb;
    v_new_key    text;
    v_old_key    text;
BEGIN
    IF TG_OP <> 'DELETE' THEN
        v_new := to_jsonb(NEW);
        SELECT string_agg(coalesce(v_new ->> k, ''), ':' ORDER BY o) INTO v_new_key
          FROM unnest(v_key_cols) WITH ORDINALITY AS u(k, o);
        IF v_new ->> v_tenant_col IS NULL THEN
            RAISE EXCEPTION 'telltale: % row % has no tenant in column %', TG_TABLE_NAME, v_new_key, v_tenant_col;
        END IF;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        v_old := to_jsonb(OLD);
        SELECT string_agg(coalesce(v_old ->> k, ''), ':' ORDER BY o) INTO v_old_key
          FROM unnest(v_key_cols) WITH ORDINALITY AS u(k, o);
    END IF;
    -- A row that changed tenant or key leaves its old place first.
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (
            (v_old ->> v_tenant_col) IS DISTINCT FROM (v_new ->> v_tenant_col) OR v_old_key <> v_new_key)) THEN
        IF v_old ->> v_tenant_col IS NOT NULL THEN
            PERFORM telltale.publish(v_old ->> v_tenant_col, v_stream,
                jsonb_build_object('row', jsonb_build_object('key', v_old_key, 'op', 'delete', 'fields', v_old)));
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM telltale.publish(v_new ->> v_tenant_col, v_stream,
            jsonb_build_object('row', jsonb_build_object('key', v_new_key, 'op', lower(TG_OP), 'fields', v_new)));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION telltale.watch(p_table regclass, p_stream text, p_tenant_column text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_keys text[];
BEGIN
    IF p_stream !~ '^[a-z0-9][a-z0-9._-]{0,63}$' THEN
        RAISE EXCEPTION 'telltale.watch: stream name % must be 1–64 of a-z, 0-9, ".", "_", "-"', p_stream USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = p_table AND attname = p_tenant_column AND attnum > 0 AND NOT attisdropped) THEN
        RAISE EXCEPTION 'telltale.watch: table % has no column %', p_table, p_tenant_column USING ERRCODE = '42703';
    END IF;
    SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum)) INTO v_keys
      FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
     WHERE i.indrelid = p_table AND i.indisprimary;
    IF v_keys IS NULL THEN
        RAISE EXCEPTION 'telltale.watch: table % has no primary key to key its rows by', p_table USING ERRCODE = '42P16';
    END IF;
    EXECUTE format('DROP TRIGGER IF EXISTS telltale_watch ON %s', p_table);
    EXECUTE format('CREATE TRIGGER telltale_watch AFTER INSERT OR UPDATE OR DELETE ON %s
                    FOR EACH ROW EXECUTE FUNCTION telltale.watch_trigger(%L, %L, %L)',
                   p_table, p_stream, p_tenant_column, v_keys::text);
END
$$;

CREATE FUNCTION telltale.unwatch(p_table regclass)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP TRIGGER IF EXISTS telltale_watch ON %s', p_table);
END
$$;
