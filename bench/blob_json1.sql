-- bench/blob_json1.sql: SavedAgentMessage v1 -> v2 with SQLite's JSON1 functions, in one UPDATE
-- (one implicit transaction): the JSON1 baseline of bench/blob.sh. An approximation of the
-- transform (shared/REFERENCE-WORKLOAD.md); how it differs is in bench/README.md.
--   content string S          -> [{"type":"text","text":S}]   (S decoded and re-encoded)
--   tool_calls[*] objects      -> "name" moved to the end as "function";
--                                 string "arguments": json(decoded) when json_valid, else {"_raw":..}
--   legacy_flag removed, schema_version (re)added last with value 2.
UPDATE saved_agent_message SET data = json_set(
    json_remove(
        CASE WHEN json_type(data, '$.tool_calls') = 'array' THEN
            json_set(
                CASE WHEN json_type(data, '$.content') = 'text'
                     THEN json_set(data, '$.content',
                                   json_array(json_object('type', 'text', 'text', data ->> '$.content')))
                     ELSE data END,
                '$.tool_calls',
                json((SELECT json_group_array(json(
                          CASE WHEN e.type = 'object' THEN (
                              SELECT CASE WHEN json_type(c, '$.arguments') = 'text' THEN
                                  json_set(c, '$.arguments',
                                      CASE WHEN json_valid(c ->> '$.arguments') THEN json(c ->> '$.arguments')
                                           ELSE json_object('_raw', c ->> '$.arguments') END)
                                  ELSE c END
                              FROM (SELECT CASE WHEN json_type(e.value, '$.name') IS NOT NULL
                                                THEN json_remove(json_set(e.value, '$.function', e.value -> '$.name'), '$.name')
                                                ELSE e.value END AS c))
                          ELSE data -> e.fullkey END))
                      FROM json_each(data, '$.tool_calls') AS e)))
        ELSE
            CASE WHEN json_type(data, '$.content') = 'text'
                 THEN json_set(data, '$.content',
                               json_array(json_object('type', 'text', 'text', data ->> '$.content')))
                 ELSE data END
        END,
        '$.legacy_flag', '$.schema_version'),
    '$.schema_version', 2);
