CREATE TABLE `source_leases` (
	`source_id` text PRIMARY KEY NOT NULL,
	`owner_id` text NOT NULL,
	`token` integer NOT NULL,
	`acquired_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
