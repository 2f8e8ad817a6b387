DROP TABLE child_logs;
