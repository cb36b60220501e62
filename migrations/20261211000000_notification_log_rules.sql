-- The rules whose alerts a notification carried, so the notification log shows each caller only
-- what comes from folders it may see. NULL: recorded before this column, shown only to those
-- who see every folder.
alter table notification_log add column rule_uids text[];
