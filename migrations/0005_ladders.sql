CREATE TABLE `ladders` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`renditions` text NOT NULL,
	`created_at` integer NOT NULL
);
