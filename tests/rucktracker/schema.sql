-- RuckTracker's schema, as far as the coaching-plan notification service touches it: a test fixture for PostgreSQL 15.
--
-- Written for this project from RuckTracker's SQL files and Flask code (public repo orourkera/go-ruck-yourself);
-- the comment above each table names the files it follows. RuckTracker has no single migration chain: the live
-- Supabase database is the sum of ad-hoc SQL files, a Flask-Migrate revision (a29d11a26a41) and dashboard edits.
-- Where a column exists only in code, its type is the most likely one and the comment says "assumed".
-- Row Level Security policies (auth.uid() = user_id on every table here) are left out: there are no Supabase roles
-- in a test database, and the service connects as the table owner (like RuckTracker's service-role key).
--
-- Apply to an empty database: psql -v ON_ERROR_STOP=1 -1 -f schema.sql  (then legacy_rows.sql).
-- No BEGIN/COMMIT here, so tests/rucktracker/__init__.py can run it inside its own transaction.

-- ---------------------------------------------------------------------------------------------------------------
-- Supabase: auth.users, the identity table every Supabase project has. Only the columns RuckTracker's SQL reads
-- (CRITICAL_FIX_auth_user_sync.sql reads id, email, created_at, raw_user_meta_data).
-- ---------------------------------------------------------------------------------------------------------------
CREATE SCHEMA auth;

CREATE TABLE auth.users (
    id                 uuid PRIMARY KEY,
    email              varchar(255),
    raw_user_meta_data jsonb,
    created_at         timestamptz DEFAULT now()
);

-- Shared updated_at helpers, as RuckTracker defines them (create_user_coaching_plans_tables.sql,
-- add_plan_notification_behavior.sql: update_updated_at_column; create_coaching_plan_templates_table.sql:
-- update_modified_column; RuckTracker/create_device_tokens_table_step3.sql: update_user_device_tokens_updated_at).
CREATE FUNCTION update_updated_at_column() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;

CREATE FUNCTION update_modified_column() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;

CREATE FUNCTION update_user_device_tokens_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;

-- ---------------------------------------------------------------------------------------------------------------
-- profiles: Supabase's original profile table. Shape from the downgrade() of
-- RuckTracker/migrations/versions/a29d11a26a41_change_user_id_to_uuid.py (which DROPS it in upgrade()), yet
-- RuckTracker/create_device_tokens_table*.sql reference profiles(id), so the live database still has it.
-- Nothing in RuckTracker's code writes it any more: a device token can only be stored for an athlete with a row here.
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE profiles (
    id            uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    name          text,
    weight_kg     double precision,
    "preferMetric" boolean NOT NULL DEFAULT true,
    updated_at    timestamptz DEFAULT now()
);
COMMENT ON TABLE profiles IS 'Stores public profile information for each user.';

-- ---------------------------------------------------------------------------------------------------------------
-- "user": RuckTracker's athlete table (no CREATE in any SQL file).
--   base columns   RuckTracker/migrations/versions/a29d11a26a41_change_user_id_to_uuid.py, RuckTracker/models.py
--                  (prefer_metric NOT NULL DEFAULT true, allow_ruck_sharing, is_profile_private, created_at/updated_at
--                  are SQLAlchemy DateTime = timestamp WITHOUT time zone, no server default)
--   avatar/privacy RuckTracker/migrations/20250113_001_add_user_profile_columns.sql,
--                  RuckTracker/migrations/20250716_001_rename_user_privacy_column.sql
--   lady mode      RuckTracker/migrations/add_lady_mode_fields.sql
--   calories       RuckTracker/migrations/20250822_001_add_calorie_fields_to_user.sql
--   strava         RuckTracker/add_strava_columns.sql
--   equipment      RuckTracker/migrations/20250120_add_equipment_preferences.sql (written for "users"; the code
--                  writes "user".equipment_type / equipment_weight_kg, api/coaching_plans.py)
--   toggles        RuckTracker/add_notification_preferences_to_users.sql,
--                  RuckTracker/migrations/20250911_001_add_notification_first_ruck.sql
--   coaching_tone  RuckTracker/migrations/20250922_001_add_coaching_tone_to_users.sql targets "users" with
--                  DEFAULT 'supportive_friend'; commit 596f394c moved the code to "user", whose column has no SQL
--                  file: varchar(50), no default, no CHECK. The code writes the display name ('Drill Sergeant').
--   plan_*         add_plan_notification_behavior.sql (ELSE branch: there is no user_profiles table). RuckTracker
--                  only reads these; nothing in its code writes them.
--   indexes        DATABASE_INDEX_REFERENCE.md (live: user_pkey, user_email_key, unique_user_email, ...; no
--                  unique index on username any more, although a29d11a26a41 created one)
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE "user" (
    id                  uuid NOT NULL,
    username            varchar(64) NOT NULL,
    email               varchar(120) NOT NULL,
    password_hash       varchar(256),
    weight_kg           double precision,
    prefer_metric       boolean NOT NULL DEFAULT true,
    gender              varchar(10),
    height_cm           double precision,
    allow_ruck_sharing  boolean DEFAULT true,
    avatar_url          varchar(255),
    is_profile_private  boolean NOT NULL DEFAULT false,
    last_active_at      timestamptz,  -- assumed type (idx_users_last_active_at in DATABASE_INDEX_REFERENCE.md)
    created_at          timestamp,    -- WITHOUT time zone, naive UTC; no server default
    updated_at          timestamp,
    date_of_birth       date,
    resting_hr          integer CHECK (resting_hr IS NULL OR (resting_hr >= 30 AND resting_hr <= 120)),
    max_hr              integer CHECK (max_hr IS NULL OR (max_hr >= 100 AND max_hr <= 240)),
    calorie_method      text CHECK (calorie_method IN ('fusion', 'mechanical', 'hr')),
    strava_access_token text,
    strava_refresh_token text,
    strava_expires_at   bigint,
    strava_athlete_id   bigint,
    strava_connected_at timestamptz,
    equipment_type      text CHECK (equipment_type IN ('ruck', 'vest', 'both', 'none')),
    equipment_weight_kg numeric(5, 2) CHECK (equipment_weight_kg > 0 AND equipment_weight_kg <= 200),
    notification_clubs  boolean DEFAULT true,
    notification_buddies boolean DEFAULT true,
    notification_events boolean DEFAULT true,
    notification_duels  boolean DEFAULT true,
    notification_first_ruck boolean DEFAULT true,
    coaching_tone       varchar(50),
    plan_notification_prefs jsonb DEFAULT '{}'::jsonb,
    plan_quiet_hours_start smallint,
    plan_quiet_hours_end smallint,
    plan_evening_brief_offset_minutes integer DEFAULT 540,
    plan_notification_timezone text DEFAULT 'UTC',
    CONSTRAINT user_pkey PRIMARY KEY (id),
    CONSTRAINT user_email_key UNIQUE (email),
    CONSTRAINT unique_user_email UNIQUE (email)
);
CREATE INDEX idx_users_last_active_at ON "user" (last_active_at);
CREATE INDEX idx_user_allow_ruck_sharing ON "user" (allow_ruck_sharing) WHERE allow_ruck_sharing = true;
CREATE INDEX idx_user_profile_private ON "user" (is_profile_private);
CREATE INDEX idx_user_notification_preferences
    ON "user" (notification_clubs, notification_buddies, notification_events, notification_duels);
CREATE INDEX idx_user_strava_athlete_id ON "user" (strava_athlete_id);
CREATE INDEX idx_user_strava_connected_at ON "user" (strava_connected_at);
COMMENT ON COLUMN "user".notification_first_ruck IS
    'Whether user wants to receive notifications when community members complete their first ruck';

-- ---------------------------------------------------------------------------------------------------------------
-- alembic_version: Flask-Migrate's default version table, at RuckTracker's only revision
-- (RuckTracker/migrations/versions/a29d11a26a41_change_user_id_to_uuid.py; DATABASE_INDEX_REFERENCE.md lists
-- alembic_version_pkc). A service that migrates with Alembic must use a version table of its own.
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE alembic_version (
    version_num varchar(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO alembic_version (version_num) VALUES ('a29d11a26a41');

-- ---------------------------------------------------------------------------------------------------------------
-- coaching_plan_templates: create_coaching_plan_templates_table.sql (every JSONB but expert_tips is NOT NULL, and so
-- is name), add_expert_tips_to_coaching_templates.sql, RuckTracker/migrations/20250120_add_custom_questions_to_templates.sql.
-- weekly_template, hydration_fueling, weekly_volume_increase_cap, no_dual_progressions, sources are read by
-- api/coaching_plans.py with .get() but exist in no SQL file, so they are not here.
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE coaching_plan_templates (
    id                    serial PRIMARY KEY,
    plan_id               varchar(50) NOT NULL UNIQUE,
    name                  varchar(100) NOT NULL,
    duration_weeks        integer NOT NULL,
    base_structure        jsonb NOT NULL,
    progression_rules     jsonb NOT NULL,
    non_negotiables       jsonb NOT NULL,
    retests               jsonb NOT NULL,
    personalization_knobs jsonb NOT NULL,
    expert_tips           jsonb,
    is_active             boolean DEFAULT true,
    created_at            timestamptz DEFAULT now(),
    updated_at            timestamptz DEFAULT now(),
    custom_questions      jsonb
);
CREATE INDEX idx_coaching_plan_templates_plan_id ON coaching_plan_templates (plan_id);
CREATE INDEX idx_coaching_plan_templates_active ON coaching_plan_templates (is_active);
CREATE TRIGGER update_coaching_plan_templates_modtime
    BEFORE UPDATE ON coaching_plan_templates FOR EACH ROW EXECUTE FUNCTION update_modified_column();

-- ---------------------------------------------------------------------------------------------------------------
-- user_coaching_plans: create_user_coaching_plans_tables.sql, then
--   update_personality_constraints.sql   valid_personality = the nine display names (the column DEFAULT
--                                        'supportive_friend' now violates it: an INSERT must name a personality)
--   RuckTracker/migrations/20250921_add_plan_review_columns.sql    review_status/reviewed_at/review_summary
--   RuckTracker/migrations/20250925_001_add_timezone_to_coaching_plans.sql    plan_notification_timezone
-- user_id is nullable; current_status is NOT NULL; plan_modifications is nullable. UNIQUE (user_id, current_status)
-- allows one cancelled (and one completed, one paused) plan per user; no SQL file drops it.
-- cancelled_date (written by DELETE /api/user-coaching-plans), plan_name, duration_weeks are code-only: not here.
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE user_coaching_plans (
    id                   serial PRIMARY KEY,
    user_id              uuid REFERENCES "user" (id) ON DELETE CASCADE,
    coaching_plan_id     integer REFERENCES coaching_plan_templates (id) ON DELETE RESTRICT,
    coaching_personality varchar(50) NOT NULL DEFAULT 'supportive_friend',
    start_date           date NOT NULL DEFAULT CURRENT_DATE,
    current_week         integer NOT NULL DEFAULT 1,
    current_status       varchar(50) NOT NULL DEFAULT 'active',
    plan_modifications   jsonb DEFAULT '{}',
    created_at           timestamptz DEFAULT now(),
    updated_at           timestamptz DEFAULT now(),
    review_status        varchar(50) DEFAULT 'pending',
    reviewed_at          timestamptz,
    review_summary       jsonb,
    plan_notification_timezone varchar(50) DEFAULT 'UTC',
    CONSTRAINT valid_status CHECK (current_status IN ('active', 'paused', 'completed', 'cancelled')),
    CONSTRAINT valid_week CHECK (current_week > 0),
    UNIQUE (user_id, current_status) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT valid_personality CHECK (coaching_personality IN (
        'Supportive Friend', 'Drill Sergeant', 'Southern Redneck', 'Yoga Instructor', 'British Butler',
        'Sports Commentator', 'Cowboy/Cowgirl', 'Nature Lover', 'Session Analyst'
    )),
    CONSTRAINT valid_review_status CHECK (review_status IN ('pending', 'approved', 'corrected', 'failed'))
);
CREATE INDEX idx_user_coaching_plans_user_status ON user_coaching_plans (user_id, current_status);
CREATE INDEX idx_user_coaching_plans_start_date ON user_coaching_plans (start_date);
CREATE INDEX idx_user_coaching_plans_review_status ON user_coaching_plans (review_status);
CREATE INDEX idx_user_coaching_plans_timezone ON user_coaching_plans (plan_notification_timezone);
COMMENT ON COLUMN user_coaching_plans.plan_notification_timezone IS
    'IANA timezone identifier for scheduling notifications (e.g., America/New_York)';
CREATE TRIGGER update_user_coaching_plans_updated_at
    BEFORE UPDATE ON user_coaching_plans FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- ---------------------------------------------------------------------------------------------------------------
-- ruck_session: no CREATE in any SQL file. Base table from RuckTracker/migrations/versions/a29d11a26a41_*.py and
-- RuckTracker/models.py (id integer serial; user_id NOT NULL -> "user"; ruck_weight_kg double NOT NULL;
-- duration_seconds INTEGER; distance/elevation/calories double precision; start_time/end_time/created_at/updated_at
-- timestamp WITHOUT time zone with no server default; started_at/ended_at/completed_at timestamptz), plus
--   RuckTracker/migrations/20250822_002_add_calorie_method_to_ruck_session.sql   calorie_method + CHECK
--   RuckTracker/migrations/20250822_004_add_steps_to_ruck_session.sql            steps
--   RuckTracker/migrations/20250822_005_add_hr_zones_to_ruck_session.sql         hr_zone_snapshot, time_in_zones
--   RuckTracker/migrations/20251005_001_live_following.sql                        allow_live_following
--   route/planned-ruck SQL (route_id, planned_ruck_id uuid; their FKs to routes/planned_ruck are left out)
-- Code-only (api/ruck.py, sql/get_*_sessions*.sql), types assumed: is_manual, is_public, average_pace.
-- status values written by api/ruck.py: created, in_progress, paused, completed (plus cancelled elsewhere).
-- Indexes: DATABASE_INDEX_REFERENCE.md.
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE ruck_session (
    id                       serial PRIMARY KEY,
    user_id                  uuid NOT NULL REFERENCES "user" (id),
    ruck_weight_kg           double precision NOT NULL,
    start_time               timestamp,
    end_time                 timestamp,
    duration_seconds         integer,
    paused_duration_seconds  integer,
    planned_duration_minutes integer,
    started_at               timestamptz,
    ended_at                 timestamptz,
    completed_at             timestamptz,
    status                   varchar(20),
    distance_km              double precision,
    distance_meters          numeric,
    elevation_gain_m         double precision,
    elevation_loss_m         double precision,
    calories_burned          double precision,
    avg_heart_rate           integer,
    average_pace             double precision,            -- assumed type (seconds per km)
    weight_kg                numeric,
    rating                   integer,
    perceived_exertion       integer,
    notes                    text,
    tags                     varchar[],
    is_manual                boolean NOT NULL DEFAULT false,  -- assumed (feeds filter "is_manual = false")
    is_public                boolean DEFAULT false,           -- assumed; /complete always writes it
    allow_live_following     boolean DEFAULT true,
    calorie_method           text CHECK (calorie_method IN ('fusion', 'mechanical', 'hr')),
    steps                    integer,
    hr_zone_snapshot         jsonb,
    time_in_zones            jsonb,
    route_id                 uuid,
    planned_ruck_id          uuid,
    created_at               timestamp,                   -- WITHOUT time zone, naive UTC; no server default
    updated_at               timestamp
);
CREATE INDEX idx_ruck_session_user_id ON ruck_session (user_id);
CREATE INDEX idx_ruck_session_user_completed ON ruck_session (user_id, completed_at DESC);
CREATE INDEX idx_ruck_session_user_completed_status ON ruck_session (user_id, completed_at DESC, status);
CREATE INDEX idx_ruck_session_user_started ON ruck_session (user_id, started_at DESC);
CREATE INDEX idx_ruck_session_user_status ON ruck_session (user_id, status);
CREATE INDEX idx_ruck_session_status ON ruck_session (status);
CREATE INDEX idx_ruck_session_public_completed ON ruck_session (is_public, completed_at DESC) WHERE is_public = true;
CREATE INDEX idx_ruck_session_monthly_stats ON ruck_session (user_id, status, completed_at DESC)
    WHERE status = 'completed';
CREATE INDEX idx_ruck_session_is_manual ON ruck_session (is_manual);
CREATE INDEX idx_ruck_session_live_following ON ruck_session (user_id, status, allow_live_following)
    WHERE status = 'active' AND allow_live_following = true;
COMMENT ON COLUMN ruck_session.calorie_method IS
    'Method used to compute calories for this session: fusion, mechanical, or hr';

-- ---------------------------------------------------------------------------------------------------------------
-- location_point: PARTITION_IMPLEMENTATION.sql replaced the a29d11a26a41/models.py table with a table partitioned
-- by month on "timestamp": id bigserial, session_id integer (nullable, no FK), latitude/longitude/altitude NUMERIC,
-- "timestamp" timestamp WITHOUT time zone (naive UTC), PRIMARY KEY (id, "timestamp"); it was created as
-- location_point_partitioned and renamed, hence the names of its key and sequence. add_accuracy_speed_to_location_point.sql
-- adds the accuracy columns. Live partitions are monthly (location_point_YYYYMM); this fixture has one DEFAULT
-- partition so rows at any date (the fixture's rows are relative to now) have a home.
-- Indexes: DATABASE_INDEX_REFERENCE.md.
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE location_point_partitioned (
    id                    bigserial NOT NULL,
    session_id            integer,
    latitude              numeric,
    longitude             numeric,
    altitude              numeric,
    "timestamp"           timestamp NOT NULL,
    horizontal_accuracy_m double precision,
    vertical_accuracy_m   double precision,
    speed_mps             double precision,
    speed_accuracy_mps    double precision,
    course_deg            double precision,
    course_accuracy_deg   double precision,
    PRIMARY KEY (id, "timestamp")
) PARTITION BY RANGE ("timestamp");
ALTER TABLE location_point_partitioned RENAME TO location_point;
CREATE TABLE location_point_default PARTITION OF location_point DEFAULT;
CREATE INDEX idx_location_point_part_session_time ON location_point (session_id, "timestamp");
CREATE INDEX idx_location_point_part_session ON location_point (session_id);
CREATE INDEX idx_location_point_coords ON location_point (latitude, longitude);

-- ---------------------------------------------------------------------------------------------------------------
-- plan_sessions: create_user_coaching_plans_tables.sql, then
--   RuckTracker/migrations/add_cascade_delete_plan_sessions.sql (same FK, ON DELETE CASCADE again)
--   add_plan_notification_behavior.sql    scheduled_start_time .. notification_metadata, two partial indexes
--   add_coaching_points_to_plan_sessions.sql    coaching_points + GIN index
-- user_coaching_plan_id is nullable; completion_status is NOT NULL. plan_cancelled (written on cancel) is code-only.
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE plan_sessions (
    id                     serial PRIMARY KEY,
    user_coaching_plan_id  integer REFERENCES user_coaching_plans (id) ON DELETE CASCADE,
    session_id             integer REFERENCES ruck_session (id) ON DELETE SET NULL,
    planned_week           integer NOT NULL,
    planned_session_type   varchar(100) NOT NULL,
    completion_status      varchar(50) NOT NULL DEFAULT 'planned',
    plan_adherence_score   numeric(3, 2) DEFAULT NULL,
    notes                  text,
    scheduled_date         date,
    completed_date         date,
    created_at             timestamptz DEFAULT now(),
    updated_at             timestamptz DEFAULT now(),
    scheduled_start_time   time,
    scheduled_timezone     text DEFAULT 'UTC',
    next_notification_at   timestamptz,
    last_notification_type text,
    missed_state           text,
    notification_metadata  jsonb DEFAULT '{}'::jsonb,
    coaching_points        jsonb DEFAULT '{}',
    CONSTRAINT valid_completion_status
        CHECK (completion_status IN ('planned', 'completed', 'missed', 'modified', 'skipped')),
    CONSTRAINT valid_adherence_score CHECK (plan_adherence_score >= 0.0 AND plan_adherence_score <= 1.0),
    CONSTRAINT valid_week CHECK (planned_week > 0)
);
CREATE INDEX idx_plan_sessions_user_plan ON plan_sessions (user_coaching_plan_id);
CREATE INDEX idx_plan_sessions_week_status ON plan_sessions (planned_week, completion_status);
CREATE INDEX idx_plan_sessions_scheduled_date ON plan_sessions (scheduled_date);
CREATE INDEX idx_plan_sessions_next_notification ON plan_sessions (next_notification_at)
    WHERE next_notification_at IS NOT NULL;
CREATE INDEX idx_plan_sessions_missed_state ON plan_sessions (missed_state) WHERE missed_state IS NOT NULL;
CREATE INDEX idx_plan_sessions_coaching_points ON plan_sessions USING gin (coaching_points);
COMMENT ON COLUMN plan_sessions.coaching_points IS
    'Structured coaching instructions for the AI cheerleader: intervals, milestones, time triggers, heart rate zones';
CREATE TRIGGER update_plan_sessions_updated_at
    BEFORE UPDATE ON plan_sessions FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- ---------------------------------------------------------------------------------------------------------------
-- plan_modifications: create_user_coaching_plans_tables.sql (change log; RuckTracker's code never writes it).
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE plan_modifications (
    id                    serial PRIMARY KEY,
    user_coaching_plan_id integer REFERENCES user_coaching_plans (id) ON DELETE CASCADE,
    modification_type     varchar(100) NOT NULL,
    from_value            jsonb,
    to_value              jsonb,
    reason                varchar(255),
    created_at            timestamptz DEFAULT now(),
    CONSTRAINT valid_modification_type CHECK (modification_type IN (
        'extend_duration', 'compress_duration', 'change_goal_type', 'enable_travel_mode', 'enable_sick_mode',
        'seasonal_adjustment', 'life_situation_change', 'personality_change', 'intensity_adjustment'
    ))
);
CREATE INDEX idx_plan_modifications_user_plan ON plan_modifications (user_coaching_plan_id);
CREATE INDEX idx_plan_modifications_type ON plan_modifications (modification_type);

-- ---------------------------------------------------------------------------------------------------------------
-- plan_review_audit: RuckTracker/migrations/20250921_add_plan_review_columns.sql (written by
-- services/plan_audit_service.py; the fixture leaves it empty).
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE plan_review_audit (
    id                    serial PRIMARY KEY,
    user_coaching_plan_id integer REFERENCES user_coaching_plans (id) ON DELETE CASCADE,
    reviewer              varchar(50) DEFAULT 'ai',
    status                varchar(50) NOT NULL DEFAULT 'pending',
    issues                jsonb,
    corrections           jsonb,
    notes                 text,
    created_at            timestamptz DEFAULT now()
);
CREATE INDEX idx_plan_review_audit_plan ON plan_review_audit (user_coaching_plan_id);

-- ---------------------------------------------------------------------------------------------------------------
-- user_plan_behavior: add_plan_notification_behavior.sql (legacy cadence snapshot, written by
-- PlanCadenceAnalyzer._persist_snapshot with on_conflict 'user_coaching_plan_id,user_id'). user_id references
-- auth.users, not "user"; both key columns are NOT NULL. RLS: owner select/insert/update.
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE user_plan_behavior (
    id                        bigserial PRIMARY KEY,
    user_id                   uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    user_coaching_plan_id     integer NOT NULL REFERENCES user_coaching_plans (id) ON DELETE CASCADE,
    prime_window_start_minute smallint,
    prime_window_end_minute   smallint,
    confidence_score          numeric(3, 2) DEFAULT 0.0,
    weekday_pattern           jsonb DEFAULT '{}'::jsonb,
    deviations                jsonb DEFAULT '[]'::jsonb,
    metadata                  jsonb DEFAULT '{}'::jsonb,
    last_recomputed_at        timestamptz,
    created_at                timestamptz DEFAULT now(),
    updated_at                timestamptz DEFAULT now(),
    UNIQUE (user_id, user_coaching_plan_id)
);
CREATE INDEX idx_user_plan_behavior_user ON user_plan_behavior (user_id);
CREATE INDEX idx_user_plan_behavior_plan ON user_plan_behavior (user_coaching_plan_id);
CREATE TRIGGER trigger_user_plan_behavior_updated_at
    BEFORE UPDATE ON user_plan_behavior FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- ---------------------------------------------------------------------------------------------------------------
-- plan_notification_audit: add_plan_notification_behavior.sql. The legacy sweep's outbox and log in one table:
-- user_coaching_plan_id and scheduled_for nullable, status free text (used: scheduled, sent, cancelled, failed),
-- no unique/business key, no (status, scheduled_for) index. payload keeps its default '{}': no version of
-- services/plan_notification_service.py writes it. RLS: owner select.
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE plan_notification_audit (
    id                    bigserial PRIMARY KEY,
    user_id               uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    user_coaching_plan_id integer REFERENCES user_coaching_plans (id) ON DELETE CASCADE,
    plan_session_id       integer REFERENCES plan_sessions (id) ON DELETE SET NULL,
    notification_type     text NOT NULL,
    scheduled_for         timestamptz,
    sent_at               timestamptz,
    status                text DEFAULT 'scheduled',
    payload               jsonb DEFAULT '{}'::jsonb,
    created_at            timestamptz DEFAULT now()
);
CREATE INDEX idx_plan_notification_audit_user ON plan_notification_audit (user_id);
CREATE INDEX idx_plan_notification_audit_plan ON plan_notification_audit (user_coaching_plan_id);
CREATE INDEX idx_plan_notification_audit_type ON plan_notification_audit (notification_type);

-- ---------------------------------------------------------------------------------------------------------------
-- user_device_tokens: RuckTracker/create_device_tokens_table.sql and _step1.._step5.sql (FK -> profiles(id), not
-- "user"; device_type CHECK; the unused upsert_device_token() function is left out). The live UNIQUE (user_id,
-- device_id) and the partial is_active index come from DATABASE_INDEX_REFERENCE.md (no SQL file declares them;
-- api/device_tokens.py upserts on_conflict 'user_id,device_id'). fcm_token is not unique. NULL device_ids never
-- conflict, so an upsert without device_id inserts a new row every time.
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE user_device_tokens (
    id          uuid DEFAULT gen_random_uuid() PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    fcm_token   text NOT NULL,
    device_id   text,
    device_type text CHECK (device_type IN ('ios', 'android')),
    app_version text,
    is_active   boolean DEFAULT true,
    created_at  timestamptz DEFAULT now(),
    updated_at  timestamptz DEFAULT now(),
    CONSTRAINT user_device_tokens_user_id_device_id_key UNIQUE (user_id, device_id)
);
CREATE INDEX idx_user_device_tokens_user_id ON user_device_tokens (user_id);
CREATE INDEX idx_user_device_tokens_fcm_token ON user_device_tokens (fcm_token);
CREATE INDEX idx_user_device_tokens_active ON user_device_tokens (is_active) WHERE is_active = true;
CREATE TRIGGER trigger_update_user_device_tokens_updated_at
    BEFORE UPDATE ON user_device_tokens FOR EACH ROW EXECUTE FUNCTION update_user_device_tokens_updated_at();

-- ---------------------------------------------------------------------------------------------------------------
-- notifications: the in-app inbox. Its CREATE is in no applied file (RuckTracker/migrations/versions/
-- create_notifications_table.py is a second Alembic root, 0e4e2af782ac, never recorded in alembic_version).
-- Columns from api/notifications_resource.py and services/notification_manager.py (which inserts recipient_id,
-- type, message = push body, data, is_read, created_at, optional sender_id/duel_id/event_id/club_id; no title);
-- club_id/event_id from RuckTracker/migrations/20250619_002_add_notifications_columns.sql (their FKs to clubs/events
-- are left out); the type CHECK was dropped by fix_notification_constraint.sql. id type assumed uuid.
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE notifications (
    id           uuid DEFAULT gen_random_uuid() PRIMARY KEY,
    recipient_id uuid NOT NULL,
    sender_id    uuid,
    type         text NOT NULL,
    message      text NOT NULL,
    data         jsonb,
    is_read      boolean NOT NULL DEFAULT false,
    read_at      timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz DEFAULT now(),
    duel_id      uuid,
    club_id      uuid,
    event_id     uuid
);
CREATE INDEX idx_notifications_recipient_created ON notifications (recipient_id, created_at DESC);
CREATE INDEX idx_notifications_recipient_unread ON notifications (recipient_id, is_read, created_at DESC);
CREATE INDEX idx_notifications_unread ON notifications (recipient_id, is_read);
CREATE INDEX idx_notifications_type ON notifications (type);
CREATE INDEX idx_notifications_club_id ON notifications (club_id);
CREATE INDEX idx_notifications_event_id ON notifications (event_id);
