-- Rows written the way RuckTracker's own code writes them, for tests that run the service on RuckTracker's schema.
--
-- Apply after schema.sql, to empty tables (tests/rucktracker/__init__.py: build() and reset()). Every date is
-- relative to now(), so the fixture works in any year; "today" is the UTC date, as RuckTracker's
-- datetime.utcnow().date(). Ids are fixed (plans 9001..9004, plan sessions <plan id> * 1000 + n, rucks 92xx, ...)
-- and every sequence is moved to 10,000,000 at the end, so rows a test inserts with default ids never clash.
-- No BEGIN/COMMIT: the caller decides the transaction (psql: -1).
--
-- The three athletes (auth.users = profiles = "user" ids):
--   A aaaaaaaa-...-0001  imperial (prefer_metric false), 'Drill Sergeant', America/New_York, plan 9001 (active)
--   B bbbbbbbb-...-0002  metric, 'Supportive Friend', Asia/Calcutta (legacy alias of Asia/Kolkata),
--                        plan 9002 (cancelled: replaced by 9003) and plan 9003 (active, created 3 days ago)
--   C cccccccc-...-0003  metric, 'Session Analyst', Europe/London, plan_notification_prefs/quiet hours set,
--                        notification_first_ruck = false (so RuckTracker scheduled no plan notification for her),
--                        plan 9004 (active, created 3 hours ago), a confident (0.85) cadence window

-- Helpers, dropped at the end. pg_temp functions must be called schema-qualified.
CREATE OR REPLACE FUNCTION pg_temp.rt_today() RETURNS date LANGUAGE sql STABLE
AS $$ SELECT (now() AT TIME ZONE 'UTC')::date $$;

-- A UTC instant from a UTC date and clock time.
CREATE OR REPLACE FUNCTION pg_temp.rt_utc(d date, t time) RETURNS timestamptz LANGUAGE sql IMMUTABLE
AS $$ SELECT (d + t) AT TIME ZONE 'UTC' $$;

-- A correct local wall time in an IANA zone (how the rucks happened).
CREATE OR REPLACE FUNCTION pg_temp.rt_local(d date, t time, tz text) RETURNS timestamptz LANGUAGE sql STABLE
AS $$ SELECT (d + t) AT TIME ZONE tz $$;

-- The instant RuckTracker computes for "minute_of_day on date d in zone tz": _schedule_session_notifications does
-- datetime.combine(d, t).replace(tzinfo=pytz.timezone(tz)), which attaches the zone's first (LMT) offset, rounded to
-- the minute by pytz: America/New_York -4:56, Asia/Calcutta +5:53, Europe/London -0:01 (UTC 0). So "06:00 New York"
-- is 10:56 UTC whatever the season.
CREATE OR REPLACE FUNCTION pg_temp.rt_pytz_replace(d date, minute_of_day integer, tz text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE
AS $$
    SELECT ((d + make_interval(mins => minute_of_day))
            - CASE tz
                  WHEN 'America/New_York' THEN interval '-4 hours -56 minutes'
                  WHEN 'Asia/Calcutta' THEN interval '5 hours 53 minutes'
                  WHEN 'Asia/Kolkata' THEN interval '5 hours 53 minutes'
                  WHEN 'Europe/London' THEN interval '-1 minute'
                  ELSE interval '0'
              END) AT TIME ZONE 'UTC'
$$;

-- ---------------------------------------------------------------------------------------------------------------
-- coaching_plan_templates: the six plans create_coaching_plan_templates_table.sql seeds, in its order (so ids 1..6).
-- The JSON is a short summary of each template, not RuckTracker's text.
-- ---------------------------------------------------------------------------------------------------------------
INSERT INTO coaching_plan_templates (id, plan_id, name, duration_weeks, base_structure, progression_rules,
                                     non_negotiables, retests, personalization_knobs, expert_tips, custom_questions,
                                     created_at, updated_at)
VALUES
    (1, 'fat-loss', 'Fat Loss & Feel Better', 12,
     '{"sessions_per_week": {"rucks": 3, "unloaded_cardio": 2, "strength": 2}, "strength_duration": "30-35 min", "starting_load": {"percentage": "10-15% bodyweight", "cap": "18 kg"}, "weekly_ruck_minutes": {"start": "120-150", "end": "170-200"}}',
     '{"one_knob_per_week": true, "deload": {"frequency": "every 4th week", "reduction": "-30% ruck minutes"}}',
     '{"ruck_frequency_cap": "4 per week"}', '{"body_mass": "weekly", "30min_ruck_tt": "weeks 0/6/12"}',
     '{"time_budget": true, "scheduled_days": true, "equipment": true}',
     '{"mindset": ["Build the habit first"]}',
     '[{"id": "weightLossTargetKg", "prompt": "How much weight would you like to lose?", "type": "number", "unit": "kg", "maps_to": "weight_loss_target"}]',
     now() - interval '200 days', now() - interval '200 days'),
    (2, 'get-faster', 'Get Faster at Rucking', 8,
     '{"sessions_per_week": {"rucks": 3, "unloaded_cardio": 1}, "ruck_types": {"A_Z2_duration": "45-70 min", "B_tempo": "20-35 min comfortably hard", "C_hills_z2": "40-60 min"}, "starting_load": {"percentage": "10-15% BW", "hold_until": "week 3"}}',
     '{"one_variable_at_a_time": true, "deload": {"week": 4, "reduction": "-30% time"}}',
     '{"progress_one_variable_at_a_time": true}', '{"60min_ruck": "week 8"}',
     '{"time_budget": true, "scheduled_days": true, "intensity_control": true}',
     '{"pacing": ["Negative splits"]}', NULL,
     now() - interval '200 days', now() - interval '200 days'),
    (3, 'event-prep', '12-mile under 3:00 (or custom event)', 12,
     '{"sessions_per_week": {"rucks": 3, "easy_run_bike": 1}, "ruck_types": {"intervals": "6-10 x 2 min hard", "tempo": "40-55 min", "long_ruck": "90 to 165 min"}}',
     '{"deload": {"frequency": "every 4th week"}, "key_milestone": "10-mile simulation two weeks out"}',
     '{"rest_between_hard_rucks": "48 h"}', '{"ten_mile_simulation": "two weeks before the event"}',
     '{"time_budget": true, "event_specifics": true}', '{"timeline": ["Taper the last 7-10 days"]}',
     '[{"id": "eventDate", "prompt": "When is your event?", "type": "date", "maps_to": "event_date"}]',
     now() - interval '200 days', now() - interval '200 days'),
    (4, 'daily-discipline', 'Daily Discipline Streak', 4,
     '{"primary_aim": "daily movement without overuse", "weekly_structure": {"light_vest_recovery_walks": "2-3 x 10-20 min", "unloaded_z2": "2 x 30-45 min", "unloaded_long": "1 x 60-75 min"}}',
     '{"graduation": "30 days and 200 Z2 min per week"}', '{"minimum_viable_session": "counts"}',
     '{"streak_tracking": "daily"}', '{"time_budget": true, "minimum_viable_session": true}', NULL, NULL,
     now() - interval '200 days', now() - interval '200 days'),
    (5, 'age-strong', 'Posture/Balance & Age Strong', 8,
     '{"sessions_per_week": {"light_rucks": "2-3 x 30-50 min @ 6-12% BW", "strength_balance": "2 per week", "mobility": "10 min"}}',
     '{"deload": {"week": 4}}', '{"prioritize_posture": true}', '{"full_retest": "week 8"}',
     '{"time_budget": true, "risk_profile": true}', '{"longevity_focus": ["Light loads, good posture"]}', NULL,
     now() - interval '200 days', now() - interval '200 days'),
    (6, 'load-capacity', 'Load Capacity Builder', 8,
     '{"sessions_per_week": {"rucks": "2-3", "unloaded_cardio": "1-2", "short_strength": "2 x 30-35 min"}, "ruck_types": {"A_Z2_duration": "45-65 min", "B_long_day": "60-120 min", "C_technique_hills": "40-50 min"}}',
     '{"load_rule": "only the long day adds load", "deload": {"week": 4}}', '{"ruck_frequency_cap": "3 per week"}',
     '{"60min_ruck": "week 8"}', '{"time_budget": true, "equipment": true}', NULL, NULL,
     now() - interval '200 days', now() - interval '200 days');

-- ---------------------------------------------------------------------------------------------------------------
-- Athletes. auth.users and "user" share the id (the on_auth_user_created trigger / registration API); profiles
-- must hold it too, or POST /api/device-token fails its FK. "user".created_at is naive UTC.
-- RuckTracker never writes the plan_* columns of "user": B's timezone and C's prefs/quiet hours stand for values set
-- by hand (quiet hours as minutes after local midnight: RuckTracker stores but never reads them, so no unit exists).
-- coaching_tone holds the personality display name of the athlete's latest plan (CoachingPlansResource.post).
-- ---------------------------------------------------------------------------------------------------------------
INSERT INTO auth.users (id, email, raw_user_meta_data, created_at) VALUES
    ('aaaaaaaa-0000-4000-8000-000000000001', 'gus.ruck@example.com', '{"provider": "email"}', now() - interval '140 days'),
    ('bbbbbbbb-0000-4000-8000-000000000002', 'priya.ruck@example.com', '{"provider": "google"}', now() - interval '90 days'),
    ('cccccccc-0000-4000-8000-000000000003', 'clare.ruck@example.com', '{"provider": "apple"}', now() - interval '45 days');

INSERT INTO profiles (id, name, weight_kg, "preferMetric", updated_at) VALUES
    ('aaaaaaaa-0000-4000-8000-000000000001', 'Gus', 88.5, false, now() - interval '140 days'),
    ('bbbbbbbb-0000-4000-8000-000000000002', 'Priya', 61.0, true, now() - interval '90 days'),
    ('cccccccc-0000-4000-8000-000000000003', 'Clare', 67.2, true, now() - interval '45 days');

INSERT INTO "user" (id, username, email, weight_kg, prefer_metric, gender, height_cm, allow_ruck_sharing,
                    is_profile_private, last_active_at, created_at, updated_at, equipment_type, equipment_weight_kg,
                    notification_first_ruck, coaching_tone, plan_notification_prefs, plan_quiet_hours_start,
                    plan_quiet_hours_end, plan_evening_brief_offset_minutes, plan_notification_timezone)
VALUES
    ('aaaaaaaa-0000-4000-8000-000000000001', 'gritty_gus', 'gus.ruck@example.com', 88.5, false, 'male', 183.0,
     true, false, now() - interval '2 days', (now() - interval '140 days') AT TIME ZONE 'UTC',
     (now() - interval '10 days') AT TIME ZONE 'UTC', 'ruck', 13.60, true, 'Drill Sergeant', '{}', NULL, NULL,
     540, 'UTC'),
    ('bbbbbbbb-0000-4000-8000-000000000002', 'priya_r', 'priya.ruck@example.com', 61.0, true, 'female', 165.0,
     false, false, now() - interval '1 day', (now() - interval '90 days') AT TIME ZONE 'UTC',
     (now() - interval '3 days') AT TIME ZONE 'UTC', 'vest', 20.00, true, 'Supportive Friend', '{}', NULL, NULL,
     540, 'Asia/Calcutta'),
    ('cccccccc-0000-4000-8000-000000000003', 'clare_walks', 'clare.ruck@example.com', 67.2, true, 'female', 170.0,
     true, false, now() - interval '1 hour', (now() - interval '45 days') AT TIME ZONE 'UTC',
     (now() - interval '3 hours') AT TIME ZONE 'UTC', 'ruck', 10.00, false, 'Session Analyst',
     '{"default_start_minute": 360, "weekly_digest_day": "Sunday", "target_load_label": "4.5 kg", "target_rpe": "5-6",
       "distance_label": "5 km", "makeup_tip": "Swap in a 20-minute form walk tomorrow.", "prefer_metric": true}',
     1320, 390, 540, 'Europe/London');

-- ---------------------------------------------------------------------------------------------------------------
-- user_coaching_plans, as CoachingPlansResource.post inserts them: coaching_personality = the client's display name,
-- start_date = the UTC date at creation, current_week 1, current_status 'active', plan_notification_timezone and
-- plan_modifications.user_timezone = personalization.timezone (FlutterTimezone), review_status left at 'pending'
-- until the review cron. Replacing a plan only flips the old one to 'cancelled' (no cancelled_date column).
-- current_week is bumped only when a completion lands on a later planned_week (oldest-first matching), so it lags.
-- A created her plan at 22:30 New York time: the UTC date (her start_date) was already "tomorrow".
-- ---------------------------------------------------------------------------------------------------------------
INSERT INTO user_coaching_plans (id, user_id, coaching_plan_id, coaching_personality, start_date, current_week,
                                 current_status, plan_modifications, created_at, updated_at, review_status,
                                 reviewed_at, review_summary, plan_notification_timezone)
VALUES
    (9001, 'aaaaaaaa-0000-4000-8000-000000000001', 2, 'Drill Sergeant', pg_temp.rt_today() - 10, 1, 'active',
     jsonb_build_object(
         'personalization', jsonb_build_object(
             'why', jsonb_build_array('Pass an event', 'Confidence'), 'successDefinition', 'Sub-13 min/mile at 20 lb',
             'trainingDaysPerWeek', 3, 'preferredDays', jsonb_build_array('Tuesday', 'Thursday', 'Saturday'),
             'challenges', jsonb_build_array('Time'), 'minimumSessionMinutes', 40, 'unloadedOk', true,
             'equipmentType', 'ruck', 'equipmentWeight', 13.6, 'preferMetric', false, 'enableNotifications', true,
             'customResponses', jsonb_build_object('currentPaceMinPerKm', 10.0, 'targetPaceMinPerKm', 9.0),
             'timezone', 'America/New_York'),
         'plan_structure', jsonb_build_object(
             'sessions_per_week', jsonb_build_object('rucks', 3, 'unloaded_cardio', 1),
             'starting_load', jsonb_build_object('percentage', '10-15% BW', 'hold_until', 'week 3'),
             'weekly_template', jsonb_build_array(
                 jsonb_build_object('day', 'tuesday', 'session_type', 'Zone 2 Ruck', 'duration_minutes', 45,
                                    'weight_kg', 9.1, 'notes', 'Conversational pace, nose breathing'),
                 jsonb_build_object('day', 'thursday', 'session_type', 'Tempo Ruck', 'duration_minutes', '40-55',
                                    'weight_kg', 9.1, 'notes', 'Two 10-minute surges at RPE 6-7'),
                 jsonb_build_object('day', 'saturday', 'session_type', 'Hill Ruck', 'duration_minutes', 50,
                                    'weight_kg', 9.1)),
             'hydration_fueling', '{}'::jsonb, 'weekly_volume_cap', 10.0, 'no_dual_progressions', false,
             'sources', '[]'::jsonb),
         'adaptations', jsonb_build_array('Focusing on building consistency before increasing intensity'),
         'plan_type', 'get-faster', 'user_timezone', 'America/New_York', 'preferred_notification_time', NULL,
         'enable_notifications', true),
     pg_temp.rt_utc(pg_temp.rt_today() - 10, '02:30'), pg_temp.rt_utc(pg_temp.rt_today() - 10, '02:41'),
     'approved', pg_temp.rt_utc(pg_temp.rt_today() - 10, '02:41'), NULL, 'America/New_York'),
    (9002, 'bbbbbbbb-0000-4000-8000-000000000002', 1, 'Supportive Friend', pg_temp.rt_today() - 40, 1, 'cancelled',
     jsonb_build_object(
         'personalization', jsonb_build_object(
             'why', jsonb_build_array('Weight loss', 'Energy'), 'successDefinition', 'Lose 4 kg and feel fitter',
             'trainingDaysPerWeek', 3, 'preferredDays', jsonb_build_array('Monday', 'Wednesday', 'Friday'),
             'challenges', jsonb_build_array('Motivation', 'Weather'), 'minimumSessionMinutes', 30,
             'unloadedOk', true, 'equipmentType', 'vest', 'equipmentWeight', 20, 'enableNotifications', true,
             'customResponses', jsonb_build_object('weightLossTargetKg', 4), 'timezone', 'Asia/Calcutta'),
         'plan_structure', jsonb_build_object(
             'sessions_per_week', jsonb_build_object('rucks', 3, 'unloaded_cardio', 2, 'strength', 2),
             'weekly_ruck_minutes', jsonb_build_object('start', '60-90', 'end', '170-200'),
             'starting_load', jsonb_build_object('percentage', '5-8% bodyweight', 'cap', '18 kg'),
             'weekly_template', jsonb_build_array(
                 jsonb_build_object('day', 'monday', 'session_type', 'Base Ruck', 'duration_minutes', 45,
                                    'weight_kg', 6.3, 'description', '45 min @ 6.3kg, conversational pace'),
                 jsonb_build_object('day', 'wednesday', 'session_type', 'Interval Ruck', 'duration_minutes', 35,
                                    'weight_kg', 7.2, 'description', '35 min @ 7.2kg, 5 rounds brisk/easy'),
                 jsonb_build_object('day', 'friday', 'session_type', 'Recovery Ruck', 'duration_minutes', 25,
                                    'weight_kg', 4.5, 'description', '25 min @ 4.5kg, very easy')),
             'hydration_fueling', '{}'::jsonb, 'weekly_volume_cap', 10.0, 'no_dual_progressions', false,
             'sources', '[]'::jsonb),
         'adaptations', jsonb_build_array('Starting with beginner-friendly sessions'),
         'plan_type', 'fat-loss', 'user_timezone', 'Asia/Calcutta', 'preferred_notification_time', NULL,
         'enable_notifications', true),
     pg_temp.rt_utc(pg_temp.rt_today() - 40, '13:05'), pg_temp.rt_utc(pg_temp.rt_today() - 3, '14:40'),
     'approved', pg_temp.rt_utc(pg_temp.rt_today() - 40, '13:20'), NULL, 'Asia/Calcutta'),
    (9003, 'bbbbbbbb-0000-4000-8000-000000000002', 6, 'Supportive Friend', pg_temp.rt_today() - 3, 1, 'active',
     jsonb_build_object(
         'personalization', jsonb_build_object(
             'why', jsonb_build_array('Confidence'), 'successDefinition', 'Carry 15 kg for an hour',
             'trainingDaysPerWeek', 3, 'preferredDays', jsonb_build_array('Monday', 'Wednesday', 'Saturday'),
             'challenges', jsonb_build_array('Time'), 'minimumSessionMinutes', 40, 'unloadedOk', false,
             'equipmentType', 'vest', 'equipmentWeight', 20, 'enableNotifications', true,
             'customResponses', jsonb_build_object('targetLoadKg', 15, 'currentMaxLoadKg', 10),
             'timezone', 'Asia/Calcutta'),
         'plan_structure', jsonb_build_object(
             'sessions_per_week', jsonb_build_object('rucks', '2-3', 'unloaded_cardio', '1-2'),
             'weekly_template', jsonb_build_array(
                 jsonb_build_object('day', 'monday', 'session_type', 'Base Ruck', 'duration_minutes', 50,
                                    'weight_kg', 9.0),
                 jsonb_build_object('day', 'wednesday', 'session_type', 'Long Ruck', 'duration_minutes', '60-90',
                                    'weight_kg', 10.0, 'notes', 'Fuel if over 75 minutes'),
                 jsonb_build_object('day', 'saturday', 'session_type', 'Technique Hill Ruck',
                                    'duration_minutes', 40, 'weight_kg', 8.0)),
             'hydration_fueling', '{}'::jsonb, 'weekly_volume_cap', 10.0, 'no_dual_progressions', false,
             'sources', '[]'::jsonb),
         'adaptations', jsonb_build_array('Progressing from 10kg to 15kg goal'),
         'plan_type', 'load-capacity', 'user_timezone', 'Asia/Calcutta', 'preferred_notification_time', NULL,
         'enable_notifications', true),
     pg_temp.rt_utc(pg_temp.rt_today() - 3, '14:40:05'), pg_temp.rt_utc(pg_temp.rt_today() - 3, '14:40:05'),
     'pending', NULL, NULL, 'Asia/Calcutta'),
    (9004, 'cccccccc-0000-4000-8000-000000000003', 5, 'Session Analyst',
     ((now() - interval '3 hours') AT TIME ZONE 'UTC')::date, 1, 'active',
     jsonb_build_object(
         'personalization', jsonb_build_object(
             'why', jsonb_build_array('Age strong'), 'successDefinition', 'Better posture and balance',
             'trainingDaysPerWeek', 4, 'preferredDays', jsonb_build_array('Tuesday', 'Thursday', 'Saturday', 'Sunday'),
             'challenges', jsonb_build_array('Injury worries'), 'minimumSessionMinutes', 30, 'unloadedOk', true,
             'equipmentType', 'ruck', 'equipmentWeight', 10, 'preferMetric', true, 'enableNotifications', true,
             'customResponses', jsonb_build_object('primaryGoals', jsonb_build_array('Better posture')),
             'timezone', 'Europe/London'),
         'plan_structure', jsonb_build_object(
             'sessions_per_week', jsonb_build_object('light_rucks', '2-3 x 30-50 min', 'strength_balance', '2 per week'),
             'weekly_template', jsonb_build_array(
                 jsonb_build_object('day', 'tuesday', 'session_type', 'Long Posture Ruck', 'duration_minutes', '40-50',
                                    'weight_kg', 3.6, 'notes', 'Every 10 min, a 1-minute suitcase carry'),
                 jsonb_build_object('day', 'thursday', 'session_type', 'Balance & Mobility Ruck',
                                    'duration_minutes', 30, 'weight_kg', 2.7, 'notes', 'Step-ups and sit-to-stands after'),
                 jsonb_build_object('day', 'saturday', 'session_type', 'Speed/Confidence Ruck',
                                    'duration_minutes', '20-30', 'weight_kg', 4.5, 'notes', 'Brisk, upright posture'),
                 jsonb_build_object('day', 'sunday', 'session_type', 'Form Walk', 'duration_minutes', 20,
                                    'weight_kg', 0, 'notes', 'Unloaded; posture and breathing')),
             'hydration_fueling', '{}'::jsonb, 'weekly_volume_cap', 10.0, 'no_dual_progressions', false,
             'sources', '[]'::jsonb),
         'adaptations', jsonb_build_array('Starting at 4.5kg with 1.0kg increments'),
         'plan_type', 'age-strong', 'user_timezone', 'Europe/London', 'preferred_notification_time', NULL,
         'enable_notifications', true),
     now() - interval '3 hours', now() - interval '3 hours', 'pending', NULL, NULL, 'Europe/London');

-- ---------------------------------------------------------------------------------------------------------------
-- ruck_session: completed rucks as POST /api/rucks + /api/rucks/<id>/complete write them (status 'completed',
-- started_at/completed_at timestamptz, duration_seconds integer, is_public from allow_ruck_sharing; created_at is
-- naive UTC). Times are the athletes' local wall-clock times.
--   A: 9204-9207 before the plan (~06:30 New York), 9203 a manual entry, 9201 and 9202 during plan 9001.
--   B: 9211-9213 during plan 9002 (~18:00 India), 9214 an Apple Health import (imports skip plan tracking).
--   C: 9221-9226 at 06:40..07:40 London (her 0.85 window), 9227 in progress right now.
-- ---------------------------------------------------------------------------------------------------------------
INSERT INTO ruck_session (id, user_id, ruck_weight_kg, duration_seconds, started_at, completed_at, status,
                          distance_km, elevation_gain_m, elevation_loss_m, calories_burned, avg_heart_rate,
                          average_pace, weight_kg, notes, is_manual, is_public, calorie_method, steps,
                          created_at, updated_at)
SELECT r.id, r.user_id, r.ruck_weight_kg, r.duration_seconds, r.started_at,
       CASE WHEN r.status = 'completed' THEN r.started_at + make_interval(secs => r.duration_seconds + r.finish_lag) END,
       r.status, r.distance_km, r.elevation_gain_m, r.elevation_gain_m * 0.9, r.calories_burned, r.avg_heart_rate,
       CASE WHEN r.distance_km > 0 THEN r.duration_seconds / r.distance_km END, r.weight_kg, r.notes, r.is_manual,
       r.is_public, 'fusion', r.steps, r.started_at AT TIME ZONE 'UTC',
       COALESCE(r.started_at + make_interval(secs => r.duration_seconds + r.finish_lag), r.started_at)
           AT TIME ZONE 'UTC'
FROM (VALUES
    (9204, 'aaaaaaaa-0000-4000-8000-000000000001'::uuid, 9.07, 3120,
     pg_temp.rt_local(pg_temp.rt_today() - 30, '06:10', 'America/New_York'), 'completed', 5.1, 42.0, 610.0, 128, 88.5, NULL, false, true, 6900, 25),
    (9205, 'aaaaaaaa-0000-4000-8000-000000000001', 9.07, 3300,
     pg_temp.rt_local(pg_temp.rt_today() - 27, '06:45', 'America/New_York'), 'completed', 5.4, 55.0, 650.0, 131, 88.5, NULL, false, true, 7300, 40),
    (9206, 'aaaaaaaa-0000-4000-8000-000000000001', 9.07, 3000,
     pg_temp.rt_local(pg_temp.rt_today() - 24, '06:20', 'America/New_York'), 'completed', 5.0, 38.0, 590.0, 126, 88.5, NULL, false, true, 6700, 30),
    (9207, 'aaaaaaaa-0000-4000-8000-000000000001', 9.07, 3480,
     pg_temp.rt_local(pg_temp.rt_today() - 13, '06:50', 'America/New_York'), 'completed', 5.7, 61.0, 690.0, 133, 88.5, NULL, false, true, 7700, 35),
    -- manual entry: logged at lunch, duration typed in; started_at is when the form was submitted
    (9203, 'aaaaaaaa-0000-4000-8000-000000000001', 11.34, 3600,
     pg_temp.rt_utc(pg_temp.rt_today() - 20, '17:05'), 'completed', 6.0, 0.0, 720.0, NULL, 88.5, 'Trail ruck, no phone', true, false, NULL, -3540),
    (9201, 'aaaaaaaa-0000-4000-8000-000000000001', 9.07, 3180,
     pg_temp.rt_local(pg_temp.rt_today() - 9, '06:31', 'America/New_York'), 'completed', 5.3, 47.0, 630.0, 127, 88.5, NULL, false, true, 7100, 55),
    (9202, 'aaaaaaaa-0000-4000-8000-000000000001', 9.07, 3300,
     pg_temp.rt_local(pg_temp.rt_today() - 2, '06:40', 'America/New_York'), 'completed', 5.6, 51.0, 660.0, 132, 88.5, NULL, false, true, 7500, 45),
    (9211, 'bbbbbbbb-0000-4000-8000-000000000002', 6.3, 2700,
     pg_temp.rt_local(pg_temp.rt_today() - 39, '18:10', 'Asia/Calcutta'), 'completed', 3.8, 12.0, 240.0, 141, 61.0, NULL, false, false, 5200, 20),
    (9212, 'bbbbbbbb-0000-4000-8000-000000000002', 7.2, 2160,
     pg_temp.rt_local(pg_temp.rt_today() - 30, '17:45', 'Asia/Calcutta'), 'completed', 3.1, 8.0, 205.0, 150, 61.0, NULL, false, false, 4300, 25),
    (9213, 'bbbbbbbb-0000-4000-8000-000000000002', 4.5, 1560,
     pg_temp.rt_local(pg_temp.rt_today() - 20, '18:30', 'Asia/Calcutta'), 'completed', 2.2, 5.0, 140.0, 128, 61.0, NULL, false, false, 3100, 30),
    (9214, 'bbbbbbbb-0000-4000-8000-000000000002', 9.0, 2940,
     pg_temp.rt_local(pg_temp.rt_today() - 10, '19:05', 'Asia/Calcutta'), 'completed', 4.0, 15.0, 255.0, 139, 61.0, 'Imported from Apple Health', false, false, 5600, 600),
    (9221, 'cccccccc-0000-4000-8000-000000000003', 4.5, 1800,
     pg_temp.rt_local(pg_temp.rt_today() - 22, '06:40', 'Europe/London'), 'completed', 2.6, 18.0, 160.0, 118, 67.2, NULL, false, true, 3600, 20),
    (9222, 'cccccccc-0000-4000-8000-000000000003', 4.5, 1920,
     pg_temp.rt_local(pg_temp.rt_today() - 19, '07:04', 'Europe/London'), 'completed', 2.8, 20.0, 172.0, 120, 67.2, NULL, false, true, 3800, 20),
    (9223, 'cccccccc-0000-4000-8000-000000000003', 4.5, 1860,
     pg_temp.rt_local(pg_temp.rt_today() - 16, '07:04', 'Europe/London'), 'completed', 2.7, 16.0, 166.0, 119, 67.2, NULL, false, true, 3700, 20),
    (9224, 'cccccccc-0000-4000-8000-000000000003', 4.5, 2100,
     pg_temp.rt_local(pg_temp.rt_today() - 12, '07:16', 'Europe/London'), 'completed', 3.0, 22.0, 185.0, 121, 67.2, NULL, false, true, 4100, 20),
    (9225, 'cccccccc-0000-4000-8000-000000000003', 4.5, 1980,
     pg_temp.rt_local(pg_temp.rt_today() - 8, '07:16', 'Europe/London'), 'completed', 2.9, 19.0, 178.0, 120, 67.2, NULL, false, true, 3900, 20),
    (9226, 'cccccccc-0000-4000-8000-000000000003', 4.5, 2040,
     pg_temp.rt_local(pg_temp.rt_today() - 5, '07:40', 'Europe/London'), 'completed', 3.0, 21.0, 181.0, 122, 67.2, NULL, false, true, 4000, 20)
) AS r(id, user_id, ruck_weight_kg, duration_seconds, started_at, status, distance_km, elevation_gain_m,
       calories_burned, avg_heart_rate, weight_kg, notes, is_manual, is_public, steps, finish_lag);

-- C's ruck in progress (POST /api/rucks: status 'in_progress', started_at now; nothing else yet).
INSERT INTO ruck_session (id, user_id, ruck_weight_kg, started_at, status, weight_kg, is_manual, created_at)
VALUES (9227, 'cccccccc-0000-4000-8000-000000000003', 4.5, now() - interval '25 minutes', 'in_progress', 67.2,
        false, (now() - interval '25 minutes') AT TIME ZONE 'UTC');

-- location_point: a few GPS points of the last rucks (naive UTC "timestamp", NUMERIC coordinates).
INSERT INTO location_point (id, session_id, latitude, longitude, altitude, "timestamp", horizontal_accuracy_m)
SELECT 9500000 + row_number() OVER (ORDER BY p.session_id, n), p.session_id, p.lat + n * 0.0011,
       p.lng + n * 0.0007, p.alt + n, (r.started_at + make_interval(mins => n * 5)) AT TIME ZONE 'UTC', 5.0
FROM (VALUES (9202, 40.7812, -73.9665, 38.0), (9214, 12.9716, 77.5946, 920.0), (9226, 51.5230, -0.1586, 35.0))
         AS p(session_id, lat, lng, alt)
CROSS JOIN generate_series(0, 3) AS n
JOIN ruck_session r ON r.id = p.session_id;

-- ---------------------------------------------------------------------------------------------------------------
-- plan_sessions, as _generate_plan_sessions (api/user_coaching_plans.py) inserts them right after the plan: for each
-- week 1..duration_weeks, every weekly_template entry, in template order; planned_session_type = the display text;
-- scheduled_date = start_date + 7 * (week - 1) + index of the day name (monday 0 .. sunday 6), i.e. the weekday
-- name is NOT honoured (a 'tuesday' session is start_date + 1 day, whatever weekday that is);
-- scheduled_timezone = personalization.timezone; completion_status 'planned'; no scheduled_start_time.
-- coaching_points: the mapped type's template only when user_insights has 30-day data (A); otherwise the minimal
-- {"session_goals": {"primary": "Complete as planned", "focus_points": []}} for mapped types and {} for unmapped
-- ones ('Zone 2 Ruck', 'Form Walk'); then session_goals.session_notes, target_weight_kg, target_duration_minutes
-- (an integer, or a range string such as "40-50") from the template entry.
--
-- The completions, as _record_session_against_plan writes them (POST /api/rucks/<id>/complete): the ruck goes to
-- the OLDEST planned session with planned_week <= the current week (ordered by week, then id), not to the session of
-- that day; completed_date = the UTC date of the completion; plan_adherence_score 0.8 (the default the adherence
-- rules give display-name session types). 9202 (done two days ago, on the day of 9001004) landed on 9001002, from
-- five days earlier, so 9001004 still reads 'planned' and got its "missed" push.
--
-- next_notification_at: the legacy scheduler sets it to the evening brief's time when it schedules the brief and the
-- sweep clears it when the brief or hype is sent (see plan_notification_audit below); last_notification_type and
-- missed_state are never written. Written here in the INSERT, because the updated_at trigger would stamp later
-- UPDATEs with the fixture's own time: updated_at is the time of the last of those writes.
-- ---------------------------------------------------------------------------------------------------------------
INSERT INTO plan_sessions (id, user_coaching_plan_id, session_id, planned_week, planned_session_type,
                           completion_status, plan_adherence_score, scheduled_date, completed_date,
                           scheduled_timezone, next_notification_at, coaching_points, created_at, updated_at)
SELECT s.id, p.id, r.id, w, t.session_type, CASE WHEN r.id IS NULL THEN 'planned' ELSE 'completed' END,
       CASE WHEN r.id IS NOT NULL THEN 0.80 END, s.scheduled_date, (r.completed_at AT TIME ZONE 'UTC')::date,
       p.plan_notification_timezone,
       CASE WHEN s.seeded AND s.brief_at > p.created_at AND s.brief_at + interval '7 minutes' > now()
            THEN s.brief_at END,
       CASE WHEN t.notes IS NULL THEN b.points
            ELSE b.points || jsonb_build_object('session_goals', COALESCE(b.points -> 'session_goals', '{}'::jsonb)
                                                                  || jsonb_build_object('session_notes', t.notes))
       END || jsonb_build_object('target_weight_kg', t.weight_kg, 'target_duration_minutes', t.duration_minutes),
       p.created_at + interval '3 seconds',
       GREATEST(p.created_at + interval '3 seconds',
                CASE WHEN s.seeded AND s.brief_at > p.created_at THEN p.created_at + interval '5 seconds' END,
                CASE WHEN s.seeded AND s.brief_at > p.created_at AND s.brief_at + interval '7 minutes' <= now()
                     THEN s.brief_at + interval '7 minutes' END,
                CASE WHEN s.seeded AND s.hype_at > p.created_at AND s.hype_at + interval '7 minutes' <= now()
                          AND (r.completed_at IS NULL OR s.hype_at < r.completed_at)
                     THEN s.hype_at + interval '7 minutes' END,
                r.completed_at + interval '2 seconds')
FROM user_coaching_plans p
JOIN coaching_plan_templates tpl ON tpl.id = p.coaching_plan_id
JOIN (VALUES
    (9001, 3, 1, 1, 'Zone 2 Ruck', NULL, '45'::jsonb, 9.1, 'Conversational pace, nose breathing'),
    (9001, 3, 2, 3, 'Tempo Ruck', 'tempo', '"40-55"', 9.1, 'Two 10-minute surges at RPE 6-7'),
    (9001, 3, 3, 5, 'Hill Ruck', 'hill_work', '50', 9.1, NULL),
    (9002, 3, 1, 0, 'Base Ruck', 'base_aerobic', '45', 6.3, NULL),
    (9002, 3, 2, 2, 'Interval Ruck', 'intervals', '35', 7.2, NULL),
    (9002, 3, 3, 4, 'Recovery Ruck', 'recovery', '25', 4.5, NULL),
    (9003, 3, 1, 0, 'Base Ruck', 'base_aerobic', '50', 9.0, NULL),
    (9003, 3, 2, 2, 'Long Ruck', 'long_slow', '"60-90"', 10.0, 'Fuel if over 75 minutes'),
    (9003, 3, 3, 5, 'Technique Hill Ruck', 'hill_work', '40', 8.0, NULL),
    (9004, 4, 1, 1, 'Long Posture Ruck', 'long_slow', '"40-50"', 3.6, 'Every 10 min, a 1-minute suitcase carry'),
    (9004, 4, 2, 3, 'Balance & Mobility Ruck', 'recovery', '30', 2.7, 'Step-ups and sit-to-stands after'),
    (9004, 4, 3, 5, 'Speed/Confidence Ruck', 'tempo', '"20-30"', 4.5, 'Brisk, upright posture'),
    (9004, 4, 4, 6, 'Form Walk', NULL, '20', 0, 'Unloaded; posture and breathing')
) AS t(plan_id, per_week, k, day_index, session_type, mapped, duration_minutes, weight_kg, notes)
    ON t.plan_id = p.id
CROSS JOIN LATERAL generate_series(1, tpl.duration_weeks) AS w
CROSS JOIN LATERAL (
    SELECT p.id * 1000 + (w - 1) * t.per_week + t.k AS id, p.start_date + 7 * (w - 1) + t.day_index AS scheduled_date,
           p.id IN (9001, 9002, 9003) AS seeded,  -- C (9004) opted out through notification_first_ruck
           pg_temp.rt_pytz_replace(p.start_date + 7 * (w - 1) + t.day_index, 360, p.plan_notification_timezone)
               - interval '540 minutes' AS brief_at,
           pg_temp.rt_pytz_replace(p.start_date + 7 * (w - 1) + t.day_index, 360, p.plan_notification_timezone)
               - interval '60 minutes' AS hype_at
) AS s
LEFT JOIN (VALUES (9001001, 9201), (9001002, 9202), (9002001, 9211), (9002002, 9212), (9002003, 9213))
    AS link(plan_session_id, ruck_id) ON link.plan_session_id = s.id
LEFT JOIN ruck_session r ON r.id = link.ruck_id
CROSS JOIN LATERAL (
    SELECT CASE
               WHEN t.mapped IS NULL THEN '{}'::jsonb
               WHEN p.id <> 9001 THEN '{"session_goals": {"primary": "Complete as planned", "focus_points": []}}'::jsonb
               WHEN t.mapped = 'tempo' THEN jsonb_build_object(
                   'intervals', jsonb_build_array(
                       jsonb_build_object('type', 'warmup', 'duration_minutes', 10,
                                          'instruction', 'Build up to 9:00/km'),
                       jsonb_build_object('type', 'work', 'duration_minutes', 20 + w,
                                          'instruction', 'Hold 9:00/km, comfortably hard'),
                       jsonb_build_object('type', 'cooldown', 'duration_minutes', 10,
                                          'instruction', 'Ease down to 11:00/km')),
                   'milestones', jsonb_build_array(
                       jsonb_build_object('distance_km', 2, 'message', 'Tempo pace found, hold it'),
                       jsonb_build_object('distance_km', 4, 'message', 'Halfway through the tempo block')),
                   'heart_rate_zones', jsonb_build_array(
                       jsonb_build_object('zone', 3, 'min_bpm', 141, 'max_bpm', 160,
                                          'instruction', 'Stay between 141 and 160 bpm')),
                   'session_goals', jsonb_build_object(
                       'primary', 'Hold 9:00/km for the work block', 'secondary', 'Even breathing',
                       'focus_points', jsonb_build_array('steady rhythm', 'loose shoulders')))
               ELSE jsonb_build_object(  -- hill_work, the only other mapped type of plan 9001
                   'intervals', jsonb_build_array(
                       jsonb_build_object('type', 'warmup', 'duration_minutes', 10, 'instruction', 'Easy flat warm-up'),
                       jsonb_build_object('type', 'work', 'duration_minutes', 3, 'instruction', 'Drive up the hill'),
                       jsonb_build_object('type', 'recovery', 'duration_minutes', 3, 'instruction', 'Walk down easy'),
                       jsonb_build_object('type', 'work', 'duration_minutes', 3, 'instruction', 'Second climb'),
                       jsonb_build_object('type', 'cooldown', 'duration_minutes', 10, 'instruction', 'Flat cool-down')),
                   'session_goals', jsonb_build_object(
                       'primary', 'Strength on the climbs', 'secondary', 'Form on the incline',
                       'focus_points', jsonb_build_array('short steps', 'lean from the ankles')))
           END AS points
) AS b;

-- ---------------------------------------------------------------------------------------------------------------
-- user_plan_behavior, as PlanCadenceAnalyzer last wrote each plan's row at "recomputed_at" (it recomputes at seed,
-- on completion and on every sweep send once the row is 3+ days old): samples = the plan's completed_date values
-- (DATE only, read as midnight UTC) + the athlete's completed rucks' started_at, localized to the plan's zone;
-- central = int(median of minute-of-day), spread = max(30, int(1.5 * population std)), window = central +/- spread
-- clamped to 0..1439, confidence = 0.1 (<3 samples), 0.3 (3-4), else round(1 - min(std / 120, 1), 2);
-- weekday_pattern = samples per weekday name; metadata.last_recomputed_at = naive ISO utcnow(); deviations never written.
-- 9004 (C, no completions yet) has six rucks 18 minutes apart in spread: window 400-460, confidence 0.85.
-- ---------------------------------------------------------------------------------------------------------------
WITH cfg(id, plan_id, recomputed_at) AS (
    VALUES (9401::bigint, 9001, (SELECT completed_at FROM ruck_session WHERE id = 9202)),
           (9402, 9002, now() - interval '1 day 5 hours'),
           (9403, 9003, now() - interval '5 hours'),
           (9404, 9004, (SELECT created_at FROM user_coaching_plans WHERE id = 9004))
), samples AS (
    SELECT DISTINCT c.id, 'date' AS kind, ps.completed_date::timestamp AT TIME ZONE 'UTC' AS at
    FROM cfg c
    JOIN plan_sessions ps ON ps.user_coaching_plan_id = c.plan_id AND ps.completion_status = 'completed'
    JOIN ruck_session r ON r.id = ps.session_id AND r.completed_at <= c.recomputed_at
    UNION
    SELECT c.id, 'ruck', date_trunc('minute', COALESCE(r.started_at, r.completed_at))
    FROM cfg c
    JOIN user_coaching_plans p ON p.id = c.plan_id
    JOIN ruck_session r ON r.user_id = p.user_id AND r.status = 'completed' AND r.completed_at <= c.recomputed_at
), localized AS (
    SELECT s.id, (s.at AT TIME ZONE p.plan_notification_timezone) AS local_at
    FROM samples s JOIN cfg c ON c.id = s.id JOIN user_coaching_plans p ON p.id = c.plan_id
), minutes AS (
    SELECT id, local_at, (extract(hour FROM local_at) * 60 + extract(minute FROM local_at))::integer AS minute
    FROM localized
), stats AS (
    SELECT id, count(*)::integer AS n,
           trunc(percentile_cont(0.5) WITHIN GROUP (ORDER BY minute))::integer AS central,
           CASE WHEN count(*) >= 2 THEN stddev_pop(minute)::double precision ELSE 0 END AS std
    FROM minutes GROUP BY id
), weekdays AS (
    SELECT id, jsonb_object_agg(day, cnt) AS pattern
    FROM (SELECT id, to_char(local_at, 'FMDay') AS day, count(*) AS cnt FROM minutes GROUP BY 1, 2) d
    GROUP BY id
)
INSERT INTO user_plan_behavior (id, user_id, user_coaching_plan_id, prime_window_start_minute,
                                prime_window_end_minute, confidence_score, weekday_pattern, deviations, metadata,
                                last_recomputed_at, created_at, updated_at)
SELECT c.id, p.user_id, p.id,
       greatest(0, st.central - greatest(30, trunc(st.std * 1.5)::integer)),
       least(1439, st.central + greatest(30, trunc(st.std * 1.5)::integer)),
       CASE WHEN st.n < 5 THEN CASE WHEN st.n >= 3 THEN 0.3 ELSE 0.1 END
            ELSE round((1 - least(st.std / 120.0, 1))::numeric, 2) END,
       wd.pattern, '[]'::jsonb,
       jsonb_build_object(
           'sample_size', st.n, 'std_dev_minutes', st.std, 'central_minute', st.central,
           'timezone', p.plan_notification_timezone,
           'last_recomputed_at', regexp_replace(to_char(c.recomputed_at AT TIME ZONE 'UTC',
                                                        'YYYY-MM-DD"T"HH24:MI:SS.US'), '\.000000$', '')),
       c.recomputed_at, p.created_at + interval '1 second', c.recomputed_at
FROM cfg c
JOIN user_coaching_plans p ON p.id = c.plan_id
JOIN stats st ON st.id = c.id
JOIN weekdays wd ON wd.id = c.id;

-- ---------------------------------------------------------------------------------------------------------------
-- plan_notification_audit, the legacy sweep's outbox, as seed_plan_schedule / _schedule_session_notifications /
-- process_scheduled_notifications / handle_session_completed leave it. At plan creation every planned session gets:
--   plan_evening_brief   start - 540 min, only if still in the future at seeding
--   plan_morning_hype    start - 60 min, only if in the future
--   plan_missed_followup start + 120 min, ALWAYS (even when already past: "missed" right after signup)
-- where start = 06:00 (default_start_minute 360: no plan's window was confident when scheduled) attached with the
-- pytz LMT offset (pg_temp.rt_pytz_replace). The 15-minute sweep marks due rows 'sent' (sent_at ~7 min later,
-- payload untouched), whatever the plan's status (so cancelled plan 9002 keeps being "sent"). A completion marks
-- the linked session's still-'scheduled' brief/hype/missed rows 'cancelled'. C (notification_first_ruck = false)
-- got no rows at all. created_at = the seeding time.
-- ---------------------------------------------------------------------------------------------------------------
WITH seeded AS (
    SELECT ps.id AS plan_session_id, p.id AS plan_id, p.user_id, p.created_at AS seeded_at,
           pg_temp.rt_pytz_replace(ps.scheduled_date, 360, p.plan_notification_timezone) AS start_at,
           r.completed_at AS linked_completed_at
    FROM plan_sessions ps
    JOIN user_coaching_plans p ON p.id = ps.user_coaching_plan_id
    LEFT JOIN ruck_session r ON r.id = ps.session_id
    WHERE p.id IN (9001, 9002, 9003)
), planned AS (
    SELECT s.*, k.notification_type, k.ord, s.start_at + k.shift AS due
    FROM seeded s
    CROSS JOIN (VALUES ('plan_evening_brief', 1, interval '-540 minutes', true),
                       ('plan_morning_hype', 2, interval '-60 minutes', true),
                       ('plan_missed_followup', 3, interval '120 minutes', false))
        AS k(notification_type, ord, shift, future_only)
    WHERE NOT k.future_only OR s.start_at + k.shift > s.seeded_at
), with_status AS (
    SELECT planned.*,
           CASE WHEN linked_completed_at IS NOT NULL AND due > linked_completed_at THEN 'cancelled'
                WHEN due + interval '7 minutes' <= now() THEN 'sent'
                ELSE 'scheduled' END AS status
    FROM planned
)
INSERT INTO plan_notification_audit (id, user_id, user_coaching_plan_id, plan_session_id, notification_type,
                                     scheduled_for, sent_at, status, payload, created_at)
SELECT 9300000 + row_number() OVER (ORDER BY plan_id, plan_session_id, ord), user_id, plan_id, plan_session_id,
       notification_type, due, CASE WHEN status = 'sent' THEN due + interval '7 minutes' END, status, '{}'::jsonb,
       seeded_at
FROM with_status;

-- Repeat "missed" rows: each completion re-runs the scheduling for the next 5 sessions still 'planned' (by date).
-- A past session whose missed row was already 'sent' has no 'scheduled' row to update, so a new missed row is
-- inserted with the old (past) time and the next sweep sends it again.
WITH completions AS (
    SELECT ps.user_coaching_plan_id AS plan_id, ps.id AS done_id, r.completed_at
    FROM plan_sessions ps JOIN ruck_session r ON r.id = ps.session_id
    WHERE ps.user_coaching_plan_id IN (9001, 9002, 9003)
), rescheduled AS (
    SELECT c.plan_id, c.completed_at, nxt.id AS plan_session_id, nxt.scheduled_date
    FROM completions c
    CROSS JOIN LATERAL (
        SELECT ps.id, ps.scheduled_date
        FROM plan_sessions ps LEFT JOIN ruck_session r ON r.id = ps.session_id
        WHERE ps.user_coaching_plan_id = c.plan_id AND ps.id <> c.done_id
          AND (r.completed_at IS NULL OR r.completed_at > c.completed_at)
        ORDER BY ps.scheduled_date, ps.id
        LIMIT 5
    ) nxt
), repeats AS (
    SELECT rs.*, p.user_id, p.plan_notification_timezone AS tz,
           pg_temp.rt_pytz_replace(rs.scheduled_date, 360, p.plan_notification_timezone) + interval '120 minutes'
               AS due
    FROM rescheduled rs JOIN user_coaching_plans p ON p.id = rs.plan_id
)
INSERT INTO plan_notification_audit (id, user_id, user_coaching_plan_id, plan_session_id, notification_type,
                                     scheduled_for, sent_at, status, payload, created_at)
SELECT 9390000 + row_number() OVER (ORDER BY completed_at, plan_session_id), user_id, plan_id, plan_session_id,
       'plan_missed_followup', due, completed_at + interval '9 minutes', 'sent', '{}'::jsonb,
       completed_at + interval '1 second'
FROM repeats
WHERE due < completed_at;

-- A 'failed' row: _send_from_audit_row marks 'failed' only a type it has no template for (when the AI copy also
-- failed). RuckTracker never inserts such a type itself; this one stands for a hand-inserted milestone test.
INSERT INTO plan_notification_audit (id, user_id, user_coaching_plan_id, plan_session_id, notification_type,
                                     scheduled_for, sent_at, status, payload, created_at)
VALUES (9399001, 'aaaaaaaa-0000-4000-8000-000000000001', 9001, NULL, 'plan_milestone_alert',
        pg_temp.rt_utc(pg_temp.rt_today() - 4, '23:00'), NULL, 'failed', '{}',
        pg_temp.rt_utc(pg_temp.rt_today() - 4, '22:58'));

-- ---------------------------------------------------------------------------------------------------------------
-- user_device_tokens, as POST /api/device-token upserts them ({fcm_token, device_id, device_type, app_version},
-- is_active true, on_conflict user_id,device_id). B's old phone was deactivated after an FCM UnregisteredError.
-- B and C share a tablet: the same fcm_token is active under both accounts (fcm_token is not unique).
-- ---------------------------------------------------------------------------------------------------------------
INSERT INTO user_device_tokens (id, user_id, fcm_token, device_id, device_type, app_version, is_active, created_at,
                                updated_at)
VALUES
    ('dddddddd-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000001',
     'fcm-a1-ePq0dK3xTgS:APA91bH-gus-iphone', '6F1C2D3E-4B5A-4C6D-8E7F-0A1B2C3D4E5F', 'ios', '3.4.2+118', true,
     now() - interval '120 days', now() - interval '2 days'),
    ('dddddddd-0000-4000-8000-000000000002', 'bbbbbbbb-0000-4000-8000-000000000002',
     'fcm-b1-cXz9Lm2QaRw:APA91bG-priya-pixel', 'b2f1c4e5d6a7b8c9', 'android', '3.4.2+118', true,
     now() - interval '60 days', now() - interval '1 day'),
    ('dddddddd-0000-4000-8000-000000000003', 'bbbbbbbb-0000-4000-8000-000000000002',
     'fcm-b0-oLd7Yt4PhNe:APA91bE-priya-old-phone', '7a1e2d3c4b5a6978', 'android', '3.1.0+97', false,
     now() - interval '88 days', now() - interval '61 days'),
    ('dddddddd-0000-4000-8000-000000000004', 'bbbbbbbb-0000-4000-8000-000000000002',
     'fcm-shared-tablet-kR5vN8wQ:APA91bF-tablet', 'e4d3c2b1a0f9e8d7', 'android', '3.4.0+112', true,
     now() - interval '50 days', now() - interval '50 days'),
    ('dddddddd-0000-4000-8000-000000000005', 'cccccccc-0000-4000-8000-000000000003',
     'fcm-shared-tablet-kR5vN8wQ:APA91bF-tablet', 'e4d3c2b1a0f9e8d7', 'android', '3.4.0+112', true,
     now() - interval '20 days', now() - interval '20 days'),
    ('dddddddd-0000-4000-8000-000000000006', 'cccccccc-0000-4000-8000-000000000003',
     'fcm-c1-Hj6Tr0VbUiE:APA91bJ-clare-iphone', '9D8C7B6A-5F4E-4D3C-8B2A-19F0E1D2C3B4', 'ios', '3.4.2+118', true,
     now() - interval '44 days', now() - interval '3 hours');

-- ---------------------------------------------------------------------------------------------------------------
-- notifications (inbox): NotificationManager.send_notification inserts one row per push (message = body, data =
-- the push data as real JSON, no title). A few of the rows the plan pushes above left, and one retention
-- placeholder (type retention_scheduled_*, data.is_scheduled_retention) that GET /api/notifications also returns.
-- ---------------------------------------------------------------------------------------------------------------
INSERT INTO notifications (id, recipient_id, type, message, data, is_read, created_at)
SELECT 'eeeeeeee-0000-4000-8000-000000000001'::uuid, 'aaaaaaaa-0000-4000-8000-000000000001'::uuid,
       'plan_completion_celebration', '5.6 km complete. Hydrate and refuel, next objective on deck. Keep the pressure on.',
       jsonb_build_object('plan_id', 9001, 'plan_session_id', 9001002, 'type', 'plan_completion_celebration',
           'session_context', jsonb_build_object('timezone', 'UTC', 'plan_name', 'get-faster', 'plan_id', 9001,
               'behavior_confidence', 0.0, 'session_focus', 'Tempo Ruck', 'distance_label', '5.6 km',
               'duration_minutes', 55, 'load_label', '9.1 kg', 'adherence_percent', 80, 'start_time_label', '06:00',
               'next_tip', 'Hydrate, refuel, and check the next session tonight.'),
           'session_payload', jsonb_build_object('session_focus', 'Tempo Ruck',
               'scheduled_date', (pg_temp.rt_today() - 7)::text, 'scheduled_start_time', NULL,
               'scheduled_timezone', 'America/New_York', 'adherence_score', 0.8, 'distance_km', 5.6,
               'duration_minutes', 55, 'ruck_weight_kg', 9.07, 'completed_at', r.completed_at, 'avg_heart_rate', 132)),
       false, r.completed_at + interval '3 seconds'
FROM ruck_session r WHERE r.id = 9202
UNION ALL
SELECT 'eeeeeeee-0000-4000-8000-000000000002', 'aaaaaaaa-0000-4000-8000-000000000001', 'plan_missed_followup',
       'Let''s bounce back: slide the session to tomorrow or log a short recovery walk today.',
       jsonb_build_object('type', 'plan_missed_followup', 'plan_id', 9001, 'plan_session_id', 9001004,
           'context', jsonb_build_object('timezone', 'UTC', 'plan_name', 'get-faster', 'plan_id', 9001,
               'session_id', 9001004, 'plan_session_id', 9001004, 'session_focus', 'Zone 2 Ruck',
               'scheduled_date_label', to_char(pg_temp.rt_today() - 2, 'FMDay'), 'start_time_label', '06:00',
               'makeup_tip', 'Slide the session to tomorrow or log a short recovery walk today.')),
       true, a.sent_at
FROM plan_notification_audit a
WHERE a.plan_session_id = 9001004 AND a.notification_type = 'plan_missed_followup' AND a.status = 'sent'
UNION ALL
SELECT 'eeeeeeee-0000-4000-8000-000000000003', 'bbbbbbbb-0000-4000-8000-000000000002',
       'retention_scheduled_session_2_reminder', 'Ready for ruck number two?',
       '{"is_scheduled_retention": true, "scheduled_for_hours": 48}'::jsonb, false, now() - interval '70 days';

-- Move every sequence of these tables past the fixed ids.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['coaching_plan_templates', 'user_coaching_plans', 'ruck_session', 'location_point',
                             'plan_sessions', 'plan_modifications', 'plan_review_audit', 'user_plan_behavior',
                             'plan_notification_audit'] LOOP
        PERFORM setval(pg_get_serial_sequence(t, 'id'), 10000000);
    END LOOP;
END;
$$;

DROP FUNCTION pg_temp.rt_today();
DROP FUNCTION pg_temp.rt_utc(date, time);
DROP FUNCTION pg_temp.rt_local(date, time, text);
DROP FUNCTION pg_temp.rt_pytz_replace(date, integer, text);
