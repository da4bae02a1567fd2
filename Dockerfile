# The gateway image: one binary, two roles (GATEWAY_ROLE=gateway | worker | all).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json gateway.example.yaml ./
COPY config ./config
USER node
EXPOSE 8080
CMD ["node", "dist/main.js", "--config", "/etc/gateway/gateway.yaml"]
