CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`run_id` text NOT NULL,
	`source_id` text NOT NULL,
	`profile_id` text NOT NULL,
	`worker_id` text,
	`encoder` text,
	`kind` text,
	`role` text DEFAULT 'primary' NOT NULL,
	`state` text NOT NULL,
	`attempt` integer NOT NULL,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`ended_at` integer,
	`failure_reason` text,
	`stats` text
);
--> statement-breakpoint
CREATE INDEX `jobs_worker_state_idx` ON `jobs` (`worker_id`,`state`,`kind`);--> statement-breakpoint
CREATE INDEX `jobs_variant_state_idx` ON `jobs` (`source_id`,`profile_id`,`state`);--> statement-breakpoint
CREATE INDEX `jobs_run_idx` ON `jobs` (`run_id`,`attempt`);--> statement-breakpoint
CREATE TABLE `metrics` (
	`name` text NOT NULL,
	`worker_id` text DEFAULT '' NOT NULL,
	`value` real DEFAULT 0 NOT NULL,
	PRIMARY KEY(`name`, `worker_id`)
);
--> statement-breakpoint
CREATE TABLE `profiles` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`video_codec` text NOT NULL,
	`encoder_preference` text,
	`width` integer DEFAULT 0 NOT NULL,
	`height` integer DEFAULT 0 NOT NULL,
	`video_bitrate_kbps` integer DEFAULT 0 NOT NULL,
	`audio_codec` text DEFAULT 'aac' NOT NULL,
	`audio_bitrate_kbps` integer DEFAULT 128 NOT NULL,
	`gop_frames` integer DEFAULT 50 NOT NULL,
	`preset` text,
	`hot_standby` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `sources` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`url` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `worker_encoders` (
	`worker_id` text NOT NULL,
	`encoder` text NOT NULL,
	`codec` text NOT NULL,
	`kind` text NOT NULL,
	`family` text NOT NULL,
	PRIMARY KEY(`worker_id`, `encoder`),
	FOREIGN KEY (`worker_id`) REFERENCES `workers`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `worker_encoders_codec_idx` ON `worker_encoders` (`codec`,`kind`,`worker_id`);--> statement-breakpoint
CREATE TABLE `workers` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`version` text NOT NULL,
	`hostname` text DEFAULT '' NOT NULL,
	`address` text DEFAULT '' NOT NULL,
	`ffmpeg_version` text DEFAULT '' NOT NULL,
	`state` text NOT NULL,
	`max_jobs` integer NOT NULL,
	`max_gpu_jobs` integer NOT NULL,
	`max_cpu_jobs` integer NOT NULL,
	`speed_fps` real DEFAULT 0 NOT NULL,
	`gpus` text DEFAULT '[]' NOT NULL,
	`rejected_encoders` text DEFAULT '[]' NOT NULL,
	`usage` text,
	`registered_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	`quarantined_until` integer,
	`quarantine_reason` text
);
--> statement-breakpoint
CREATE INDEX `workers_state_idx` ON `workers` (`state`);