-- Computed results, addressed by a stable key (model, analysis, input, parameters) so repeated requests
-- and shared links are served without recomputation, across restarts.
CREATE TABLE result_cache (
    cache_key   VARCHAR(128) PRIMARY KEY,
    model       VARCHAR(200) NOT NULL,
    analysis    VARCHAR(100) NOT NULL,
    request     CLOB         NOT NULL,
    result      BLOB         NOT NULL,
    created_at  TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX result_cache_model ON result_cache (model, analysis);

-- Long work (indexing, sweeps, training) runs as a job with progress and can be cancelled.
CREATE TABLE jobs (
    id          VARCHAR(64)  PRIMARY KEY,
    kind        VARCHAR(100) NOT NULL,
    model       VARCHAR(200),
    params      CLOB,
    state       VARCHAR(20)  NOT NULL,
    progress    DOUBLE       NOT NULL DEFAULT 0,
    message     VARCHAR(2000),
    result_key  VARCHAR(128),
    created_at  TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP
);
