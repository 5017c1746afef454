# syntax=docker/dockerfile:1
# Build: compile TypeScript to dist/ with the dev toolchain.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# Fonts for the text in results charts (resvg renders with system fonts).
RUN apt-get update \
  && apt-get install -y --no-install-recommends fonts-dejavu-core \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY data ./data
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "dist/app/healthcheck.js"]
# `node dist/app/worker.js` runs the pipeline workers alone (see docker-compose.yml).
# Not `npm start` / `npm run worker`: those run the TypeScript sources through tsx, a
# development dependency this image leaves out (and node as PID 1 gets SIGTERM itself).
CMD ["node", "dist/app/start.js"]
