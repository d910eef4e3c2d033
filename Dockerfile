# syntax=docker/dockerfile:1
# One image for Sluice and the sample model server (the same package ships both binaries).
#   docker build -t sluice .
#   docker run -p 8080:8080 -v $PWD/my-sluice.yaml:/etc/sluice/sluice.yaml:ro sluice
#   docker run -e PORT=8001 -e HOST=0.0.0.0 sluice node dist/model-server/main.js

# The Node.js major the project supports (package.json engines) and is tested on.
ARG NODE_IMAGE=node:20-slim

# ---- build: compile TypeScript with the dev dependencies ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (the build) runs below, once the sources are in.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and the compiled output only ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Default configuration: the compose stack's endpoints. Mount your own file over it.
COPY config/compose.yaml /etc/sluice/sluice.yaml

USER node
EXPOSE 8080
# No HEALTHCHECK here: the image runs two roles (Sluice, or the sample model server) whose probes
# differ, so each deployment declares its own. Sluice: liveness GET /internal/live (the process
# serves), readiness GET /internal/health (some endpoint is routable). Model server: GET /health.
# The slim image has no curl; probe with Node's fetch, as docker-compose.yml does.
CMD ["node", "dist/cli.js", "--config", "/etc/sluice/sluice.yaml"]
