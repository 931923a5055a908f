"""Pure domain rules for coaching plan notifications: scheduling, matching, content. No I/O."""
