CREATE TABLE `scheduler_slots` (
	`worker_id` text NOT NULL,
	`encoder` text NOT NULL,
	`codec` text NOT NULL,
	`kind` text NOT NULL,
	`family` text NOT NULL,
	`kind_rank` integer NOT NULL,
	`worker_state` text NOT NULL,
	`quarantined_until` integer,
	`speed_fps` real NOT NULL,
	`max_jobs` integer NOT NULL,
	`max_gpu_jobs` integer NOT NULL,
	`max_cpu_jobs` integer NOT NULL,
	`jobs` integer NOT NULL,
	`gpu_jobs` integer NOT NULL,
	`cpu_jobs` integer NOT NULL,
	`load_ratio` real NOT NULL,
	`eligible` integer NOT NULL,
	PRIMARY KEY(`worker_id`, `encoder`)
);
--> statement-breakpoint
CREATE INDEX `scheduler_slots_rank_idx` ON `scheduler_slots` (`codec`,`eligible`,`kind_rank`,`load_ratio`,"speed_fps" desc,`worker_id`,`encoder`);--> statement-breakpoint
CREATE INDEX `scheduler_slots_family_rank_idx` ON `scheduler_slots` (`codec`,`eligible`,`family`,`kind_rank`,`load_ratio`,"speed_fps" desc,`worker_id`,`encoder`);--> statement-breakpoint
CREATE INDEX `scheduler_slots_encoder_rank_idx` ON `scheduler_slots` (`codec`,`eligible`,`encoder`,`kind_rank`,`load_ratio`,"speed_fps" desc,`worker_id`);