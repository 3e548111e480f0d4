-- The lake's tables. Bronze keeps raw items with their provenance; silver keeps clean,
-- deduplicated chunks; gold keeps digests. Every statement is idempotent.
CREATE SEQUENCE IF NOT EXISTS seq_sources;
CREATE SEQUENCE IF NOT EXISTS seq_items;
CREATE SEQUENCE IF NOT EXISTS seq_chunks;
CREATE SEQUENCE IF NOT EXISTS seq_digests;

CREATE TABLE IF NOT EXISTS sources (
    id BIGINT PRIMARY KEY DEFAULT nextval('seq_sources'),
    kind VARCHAR NOT NULL,              -- file | feed | page | search
    uri VARCHAR NOT NULL UNIQUE,
    topic VARCHAR,
    interval_s INTEGER,                 -- how often `schedule` runs it
    retention_days INTEGER,             -- silver older than this is pruned
    etag VARCHAR,
    last_modified VARCHAR,
    last_run TIMESTAMP,
    last_error VARCHAR,
    created_at TIMESTAMP DEFAULT current_timestamp
);

CREATE TABLE IF NOT EXISTS bronze_items (
    id BIGINT PRIMARY KEY DEFAULT nextval('seq_items'),
    source_id BIGINT NOT NULL,
    url VARCHAR,                        -- the item's URL or file path
    title VARCHAR,
    published TIMESTAMP,
    fetched_at TIMESTAMP DEFAULT current_timestamp,
    raw VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL UNIQUE,
    metadata JSON,                      -- provenance: query, feed, content type, ...
    state VARCHAR DEFAULT 'new',        -- new | silver | duplicate | near_duplicate | too_short | language
    norm_hash VARCHAR,
    simhash UBIGINT,
    language VARCHAR
);

CREATE TABLE IF NOT EXISTS silver_chunks (
    id BIGINT PRIMARY KEY DEFAULT nextval('seq_chunks'),
    item_id BIGINT NOT NULL,
    ordinal INTEGER NOT NULL,
    text VARCHAR NOT NULL,
    tokens INTEGER,
    published TIMESTAMP,
    language VARCHAR,
    created_at TIMESTAMP DEFAULT current_timestamp,
    UNIQUE (item_id, ordinal)
);

-- Chunk embeddings, one row per chunk and embedding model (written by the retrieval
-- indexer through the server's /api/embed; the FAISS index is built from them).
CREATE TABLE IF NOT EXISTS chunk_embeddings (
    chunk_id BIGINT NOT NULL,
    model VARCHAR NOT NULL,
    dim INTEGER NOT NULL,
    vector FLOAT[] NOT NULL,
    created_at TIMESTAMP DEFAULT current_timestamp,
    PRIMARY KEY (chunk_id, model)
);

CREATE TABLE IF NOT EXISTS gold_digests (
    id BIGINT PRIMARY KEY DEFAULT nextval('seq_digests'),
    topic VARCHAR,
    period DATE,
    summary VARCHAR,
    item_ids BIGINT[],
    model VARCHAR,
    created_at TIMESTAMP DEFAULT current_timestamp
);

CREATE TABLE IF NOT EXISTS audit (
    time TIMESTAMP DEFAULT current_timestamp,
    actor VARCHAR,
    action VARCHAR,
    detail VARCHAR
);

-- Facts about the lake itself; `lake_id` ties derived caches (the FAISS index) to this lake.
CREATE TABLE IF NOT EXISTS lake_meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
INSERT INTO lake_meta VALUES ('lake_id', uuid()::VARCHAR) ON CONFLICT DO NOTHING;
