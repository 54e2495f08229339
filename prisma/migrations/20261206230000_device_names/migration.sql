-- AlterTable: device names, encrypted by the clients (the server stores opaque bytes).
ALTER TABLE "devices" ADD COLUMN     "name" BYTEA;
