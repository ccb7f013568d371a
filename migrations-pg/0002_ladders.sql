CREATE TABLE "ladders" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"name" text COLLATE "C" NOT NULL,
	"renditions" jsonb NOT NULL,
	"created_at" bigint NOT NULL
);
