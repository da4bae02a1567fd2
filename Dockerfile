# The gateway image: one program, three roles (GATEWAY_ROLE=gateway | worker | all), run compiled with
# `node dist/main.js`; no TypeScript, tsx or webpack at run time (workers load the prebuilt workflow bundle).
FROM node:20.20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
# Everything `npm run build` reads (scripts/build-state.ts lists the same inputs).
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

FROM node:20.20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# V8's young generation at 8 MB semi-spaces instead of 16: ~24 MB less RSS under load, throughput within the
# noise of bench/results/overhead.md ("(alt)" rows of BENCH_ALT_NODE_ARGS runs). Override NODE_OPTIONS to change.
ENV NODE_OPTIONS=--max-semi-space-size=8
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json gateway.example.yaml ./
COPY config ./config
# Files the gateway and its workers share (batches.dir) live under /data: a volume, writable by the node user.
RUN mkdir -p /data/files && chown -R node:node /data
USER node
EXPOSE 8080
ENV GATEWAY_CONFIG=/etc/gateway/gateway.yaml
CMD ["node", "dist/main.js"]
