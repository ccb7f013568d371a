CREATE TABLE `coordinators` (
	`id` text PRIMARY KEY NOT NULL,
	`http_url` text NOT NULL,
	`grpc_addr` text NOT NULL,
	`started_at` integer NOT NULL,
	`renewed_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`stopped_at` integer,
	`clients` integer DEFAULT 0 NOT NULL,
	`sources` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE `jobs` ADD `coordinator_id` text;--> statement-breakpoint
ALTER TABLE `workers` ADD `coordinator_id` text;--> statement-breakpoint
CREATE INDEX `workers_coordinator_idx` ON `workers` (`coordinator_id`);