CREATE TABLE "coordinators" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"http_url" text COLLATE "C" NOT NULL,
	"grpc_addr" text COLLATE "C" NOT NULL,
	"started_at" bigint NOT NULL,
	"renewed_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"stopped_at" bigint,
	"clients" integer DEFAULT 0 NOT NULL,
	"sources" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "coordinator_id" text COLLATE "C";--> statement-breakpoint
ALTER TABLE "workers" ADD COLUMN "coordinator_id" text COLLATE "C";--> statement-breakpoint
CREATE INDEX "workers_coordinator_idx" ON "workers" USING btree ("coordinator_id");