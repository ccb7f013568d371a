CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `worker_faults` (
	`id` text PRIMARY KEY NOT NULL,
	`worker_id` text NOT NULL,
	`kind` text NOT NULL,
	`at` integer NOT NULL,
	`detail` text NOT NULL,
	`job_id` text,
	`profile_id` text,
	`encoder` text
);
--> statement-breakpoint
CREATE INDEX `worker_faults_worker_idx` ON `worker_faults` (`worker_id`,`at`);