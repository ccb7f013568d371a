CREATE TABLE "jobs" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"run_id" text COLLATE "C" NOT NULL,
	"source_id" text COLLATE "C" NOT NULL,
	"profile_id" text COLLATE "C" NOT NULL,
	"worker_id" text COLLATE "C",
	"encoder" text COLLATE "C",
	"kind" text COLLATE "C",
	"role" text COLLATE "C" DEFAULT 'primary' NOT NULL,
	"state" text COLLATE "C" NOT NULL,
	"attempt" integer NOT NULL,
	"created_at" bigint NOT NULL,
	"started_at" bigint,
	"ended_at" bigint,
	"failure_reason" text COLLATE "C",
	"stats" jsonb
);
--> statement-breakpoint
CREATE TABLE "metrics" (
	"name" text COLLATE "C" NOT NULL,
	"worker_id" text COLLATE "C" DEFAULT '' NOT NULL,
	"value" double precision DEFAULT 0 NOT NULL,
	CONSTRAINT "metrics_name_worker_id_pk" PRIMARY KEY("name","worker_id")
);
--> statement-breakpoint
CREATE TABLE "profiles" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"name" text COLLATE "C" NOT NULL,
	"video_codec" text COLLATE "C" NOT NULL,
	"encoder_preference" text COLLATE "C",
	"width" integer DEFAULT 0 NOT NULL,
	"height" integer DEFAULT 0 NOT NULL,
	"video_bitrate_kbps" integer DEFAULT 0 NOT NULL,
	"audio_codec" text COLLATE "C" DEFAULT 'aac' NOT NULL,
	"audio_bitrate_kbps" integer DEFAULT 128 NOT NULL,
	"gop_frames" integer DEFAULT 50 NOT NULL,
	"preset" text COLLATE "C",
	"hot_standby" boolean DEFAULT false NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "scheduler_slots" (
	"worker_id" text COLLATE "C" NOT NULL,
	"encoder" text COLLATE "C" NOT NULL,
	"codec" text COLLATE "C" NOT NULL,
	"kind" text COLLATE "C" NOT NULL,
	"family" text COLLATE "C" NOT NULL,
	"kind_rank" integer NOT NULL,
	"worker_state" text COLLATE "C" NOT NULL,
	"quarantined_until" bigint,
	"speed_fps" double precision NOT NULL,
	"max_jobs" integer NOT NULL,
	"max_gpu_jobs" integer NOT NULL,
	"max_cpu_jobs" integer NOT NULL,
	"jobs" integer NOT NULL,
	"gpu_jobs" integer NOT NULL,
	"cpu_jobs" integer NOT NULL,
	"load_ratio" double precision NOT NULL,
	"eligible" boolean NOT NULL,
	CONSTRAINT "scheduler_slots_worker_id_encoder_pk" PRIMARY KEY("worker_id","encoder")
);
--> statement-breakpoint
CREATE TABLE "settings" (
	"key" text COLLATE "C" PRIMARY KEY NOT NULL,
	"value" text COLLATE "C" NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sources" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"name" text COLLATE "C" NOT NULL,
	"url" text COLLATE "C" NOT NULL,
	"backup_urls" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "worker_encoders" (
	"worker_id" text COLLATE "C" NOT NULL,
	"encoder" text COLLATE "C" NOT NULL,
	"codec" text COLLATE "C" NOT NULL,
	"kind" text COLLATE "C" NOT NULL,
	"family" text COLLATE "C" NOT NULL,
	CONSTRAINT "worker_encoders_worker_id_encoder_pk" PRIMARY KEY("worker_id","encoder")
);
--> statement-breakpoint
CREATE TABLE "worker_faults" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"worker_id" text COLLATE "C" NOT NULL,
	"kind" text COLLATE "C" NOT NULL,
	"at" bigint NOT NULL,
	"detail" text COLLATE "C" NOT NULL,
	"job_id" text COLLATE "C",
	"profile_id" text COLLATE "C",
	"encoder" text COLLATE "C"
);
--> statement-breakpoint
CREATE TABLE "workers" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"name" text COLLATE "C" NOT NULL,
	"version" text COLLATE "C" NOT NULL,
	"hostname" text COLLATE "C" DEFAULT '' NOT NULL,
	"address" text COLLATE "C" DEFAULT '' NOT NULL,
	"ffmpeg_version" text COLLATE "C" DEFAULT '' NOT NULL,
	"state" text COLLATE "C" NOT NULL,
	"max_jobs" integer NOT NULL,
	"max_gpu_jobs" integer NOT NULL,
	"max_cpu_jobs" integer NOT NULL,
	"speed_fps" double precision DEFAULT 0 NOT NULL,
	"gpus" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"rejected_encoders" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"usage" jsonb,
	"registered_at" bigint NOT NULL,
	"last_seen_at" bigint NOT NULL,
	"quarantined_until" bigint,
	"quarantine_reason" text COLLATE "C"
);
--> statement-breakpoint
ALTER TABLE "worker_encoders" ADD CONSTRAINT "worker_encoders_worker_id_workers_id_fk" FOREIGN KEY ("worker_id") REFERENCES "public"."workers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "jobs_worker_state_idx" ON "jobs" USING btree ("worker_id","state","kind");--> statement-breakpoint
CREATE INDEX "jobs_variant_state_idx" ON "jobs" USING btree ("source_id","profile_id","state");--> statement-breakpoint
CREATE INDEX "jobs_run_idx" ON "jobs" USING btree ("run_id","attempt");--> statement-breakpoint
CREATE INDEX "scheduler_slots_rank_idx" ON "scheduler_slots" USING btree ("codec","eligible","kind_rank","load_ratio","speed_fps" DESC NULLS LAST,"worker_id","encoder");--> statement-breakpoint
CREATE INDEX "scheduler_slots_family_rank_idx" ON "scheduler_slots" USING btree ("codec","eligible","family","kind_rank","load_ratio","speed_fps" DESC NULLS LAST,"worker_id","encoder");--> statement-breakpoint
CREATE INDEX "scheduler_slots_encoder_rank_idx" ON "scheduler_slots" USING btree ("codec","eligible","encoder","kind_rank","load_ratio","speed_fps" DESC NULLS LAST,"worker_id");--> statement-breakpoint
CREATE INDEX "worker_encoders_codec_idx" ON "worker_encoders" USING btree ("codec","kind","worker_id");--> statement-breakpoint
CREATE INDEX "worker_faults_worker_idx" ON "worker_faults" USING btree ("worker_id","at");--> statement-breakpoint
CREATE INDEX "workers_state_idx" ON "workers" USING btree ("state");